/**
 * Every public type of the package, in one place: the options it takes
 * (`options.ts`) and what `accept` hands out (`incoming.ts`).
 */

export type * from './options.ts'
export type * from './incoming.ts'
