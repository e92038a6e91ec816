//! WebAssembly policy host: runs mutator, orderer and validator components over a hook plan.
