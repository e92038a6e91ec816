pub(crate) mod junit;
mod policies;
mod sarif;
mod table;

pub(crate) use policies::policies_table;
pub(crate) use sarif::sarif;
pub(crate) use table::plan_table;
