mod table;

pub(crate) use table::plan_table;
