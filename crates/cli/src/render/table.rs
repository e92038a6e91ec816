use std::fmt::Write;

use hooks_plan::{Plan, TimeoutSource, Waves, escape, escape_bounded, format_duration};

/// The widest a cell of policy values gets: a chart (or a policy's patch) can list
/// thousands, and the table is for reading.
const CELL_BYTES: usize = 64;

/// Columns padded to their widest cell; no colours, so logs and snapshots stay plain.
pub(crate) fn render_rows(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                let _ = write!(text, "{cell:<width$}  ", width = widths[i]);
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

/// The plan as a table; with `waves`, the wave of each hook (what `run --parallel` runs
/// together) in a first column.
pub(crate) fn plan_table(plan: &Plan, waves: bool) -> String {
    let mut out = format!(
        "{}: {} hook{} (ordering: {}{})\n",
        plan.event,
        plan.hooks.len(),
        if plan.hooks.len() == 1 { "" } else { "s" },
        plan.ordering,
        if waves {
            let count = plan.wave_count();
            let from = match &plan.waves {
                Waves::Weight => "by weight".to_owned(),
                Waves::Policy { policy } => format!("from policy `{}`", escape(policy)),
            };
            format!("; {count} wave{} {from}", if count == 1 { "" } else { "s" })
        } else {
            String::new()
        }
    );
    if !plan.hooks.is_empty() {
        let rows: Vec<Vec<String>> = plan
            .hooks
            .iter()
            .map(|p| {
                let h = &p.hook;
                let (timeout, from) = plan.timeout_of(p);
                let timeout = match from {
                    TimeoutSource::Default => format_duration(timeout),
                    TimeoutSource::Annotation => format!("{} (own)", format_duration(timeout)),
                };
                // Every cell from the manifest is escaped: a name or a policy value could
                // carry control characters that redraw the table.
                let wave = waves.then(|| p.wave.to_string());
                wave.into_iter()
                    .chain([
                        p.position.to_string(),
                        h.weight.to_string(),
                        escape(&h.kind).into_owned(),
                        escape(&h.name).into_owned(),
                        h.namespace
                            .as_deref()
                            .map_or_else(|| "-".into(), |ns| escape(ns).into_owned()),
                        escape_bounded(&h.effective_delete_policies().join(","), CELL_BYTES),
                        timeout,
                        escape(&format!("{}#{}", h.source, h.document)).into_owned(),
                        p.tie_break.map_or(String::new(), |t| t.as_str().to_owned()),
                    ])
                    .collect()
            })
            .collect();
        let header = [
            "WAVE",
            "#",
            "WEIGHT",
            "KIND",
            "NAME",
            "NAMESPACE",
            "DELETE POLICY",
            "TIMEOUT",
            "SOURCE",
            "TIE BROKEN BY",
        ];
        out.push_str(&render_rows(&header[usize::from(!waves)..], &rows));
    }
    if !plan.skipped.is_empty() {
        out.push_str("\nskipped (Helm drops these documents):\n");
        for s in &plan.skipped {
            let _ = writeln!(
                out,
                "  {}/{} ({}#{}): {}",
                escape(&s.kind),
                escape(&s.name),
                escape(&s.source),
                s.document,
                escape(&s.reason)
            );
        }
    }
    out
}
