//! Exit codes of `kubectl-hooks`. They are part of the interface: CI scripts branch on them.
//!
//! | code | meaning |
//! |-----:|---------|
//! | 0    | success: the plan was printed, every hook ran, or every policy test passed |
//! | 1    | an unexpected internal error (a bug: please report it) |
//! | 2    | usage error or bad input: unreadable or invalid manifests, flags, policy files or config; no such release or revision, a release without hooks for the event, an unknown `--hook` |
//! | 3    | denied: a policy vetoed the event; nothing was applied |
//! | 4    | policy error: a policy trapped, timed out, hit a limit or broke the contract |
//! | 5    | a hook failed or timed out |
//! | 6    | cluster or API error: unreachable cluster, forbidden (e.g. to read Helm's Secrets), discovery failed, object already exists, a corrupt or foreign release record, `gc` could not delete a leftover |
//! | 7    | `policy test`: at least one case failed |
//! | 130  | interrupted (Ctrl-C); the report says what was left in the cluster |

pub const SUCCESS: i32 = 0;
pub const INTERNAL_ERROR: i32 = 1;
pub const BAD_INPUT: i32 = 2;
pub const DENIED: i32 = 3;
pub const POLICY_ERROR: i32 = 4;
pub const HOOK_FAILED: i32 = 5;
pub const CLUSTER_ERROR: i32 = 6;
pub const POLICY_TESTS_FAILED: i32 = 7;
pub const INTERRUPTED: i32 = 130;
