/** Stops a running program cleanly (what `vigil server|hub|agent|start` wait on before exiting). */
export type Stopper = () => Promise<unknown>;
