mod policies;
mod table;

pub(crate) use policies::policies_table;
pub(crate) use table::plan_table;
