pub(crate) mod junit;
mod policies;
mod sarif;
mod table;

pub(crate) use policies::policies_table;
pub(crate) use sarif::sarif;
pub(crate) use table::{plan_table, render_rows};

/// `warning: …` lines for a plan's warnings, escaped: they quote manifests.
pub(crate) fn warnings(warnings: &[String]) -> String {
    warnings
        .iter()
        .map(|w| format!("warning: {}\n", hooks_plan::escape(w)))
        .collect()
}
