//! What a simulated container "does": a tiny reading of its command line, enough to turn
//! `sh -c "echo hello; exit 1"` into the output `hello` and exit code 1. This is not a shell.

use serde_json::Value;

/// Annotation (on a Pod, its Job, or the Job's pod template) forcing the outcome: `fail` or
/// `succeed`.
pub const OUTCOME_ANNOTATION: &str = "emulator.kubectl-hooks.dev/outcome";
/// Annotation setting how long the pod runs, as a Go duration (`2s`, `500ms`).
pub const DURATION_ANNOTATION: &str = "emulator.kubectl-hooks.dev/duration";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContainerRun {
    pub name: String,
    pub output: Vec<String>,
    pub exit_code: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sep {
    Seq,
    And,
    Or,
}

const SHELLS: &[&str] = &["sh", "bash", "ash", "dash", "zsh", "ksh"];

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The script a container runs: the `-c` argument of a shell, otherwise the argv joined.
fn script_of(container: &Value) -> String {
    let mut words = strings(container.get("command"));
    words.extend(strings(container.get("args")));
    let is_shell = words.first().is_some_and(|w| {
        let base = w.rsplit('/').next().unwrap_or(w);
        SHELLS.contains(&base)
    });
    if is_shell
        && let Some(i) = words
            .iter()
            .position(|w| w.starts_with('-') && w.contains('c') && !w.starts_with("--"))
    {
        return words[i + 1..].join(" ");
    }
    words
        .iter()
        .map(|w| {
            if w.contains(char::is_whitespace) {
                format!("'{w}'")
            } else {
                w.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Splits a script into statements on unquoted `;`, newlines, `&&`, `||` and `|`.
fn statements(script: &str) -> Vec<(Sep, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut sep = Sep::Seq;
    let mut quote: Option<char> = None;
    let mut chars = script.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            (Some(_), '\\') => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                cur.push(c);
            }
            (None, ';' | '\n') => {
                out.push((sep, std::mem::take(&mut cur)));
                sep = Sep::Seq;
            }
            (None, '&') if chars.peek() == Some(&'&') => {
                chars.next();
                out.push((sep, std::mem::take(&mut cur)));
                sep = Sep::And;
            }
            (None, '|') => {
                let next = if chars.peek() == Some(&'|') {
                    chars.next();
                    Sep::Or
                } else {
                    Sep::Seq
                };
                out.push((sep, std::mem::take(&mut cur)));
                sep = next;
            }
            (None, c) => cur.push(c),
        }
    }
    out.push((sep, cur));
    out.into_iter()
        .map(|(s, t)| (s, t.trim().to_string()))
        .filter(|(_, t)| !t.is_empty())
        .collect()
}

/// Shell-style word splitting with single quotes, double quotes and backslashes.
fn words(stmt: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = stmt.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"') | None, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// Runs the container's command in the emulator's imagination.
pub(crate) fn simulate(container: &Value) -> ContainerRun {
    let name = container
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("container")
        .to_string();
    let mut output = Vec::new();
    let mut status = 0i32;
    for (sep, stmt) in statements(&script_of(container)) {
        if (sep == Sep::And && status != 0) || (sep == Sep::Or && status == 0) {
            continue;
        }
        let w = words(&stmt);
        let Some(cmd) = w.first() else { continue };
        let cmd = cmd.rsplit('/').next().unwrap_or(cmd);
        status = match cmd {
            "echo" => {
                let mut args = &w[1..];
                while args
                    .first()
                    .is_some_and(|a| matches!(a.as_str(), "-n" | "-e" | "-E"))
                {
                    args = &args[1..];
                }
                output.push(args.join(" "));
                0
            }
            "false" => 1,
            "exit" => {
                let code = w
                    .get(1)
                    .and_then(|c| c.parse::<i32>().ok())
                    .unwrap_or(status);
                return ContainerRun {
                    name,
                    output,
                    exit_code: code,
                };
            }
            _ => 0,
        };
    }
    ContainerRun {
        name,
        output,
        exit_code: status,
    }
}

/// Simulates every container of a pod spec, then applies a forced outcome if one is set.
pub(crate) fn simulate_pod(spec: &Value, outcome: Option<&str>) -> Vec<ContainerRun> {
    let mut runs: Vec<ContainerRun> = spec
        .get("containers")
        .and_then(Value::as_array)
        .map(|cs| cs.iter().map(simulate).collect())
        .unwrap_or_default();
    match outcome.map(str::trim) {
        Some(o) if o.eq_ignore_ascii_case("fail") => {
            if runs.iter().all(|r| r.exit_code == 0)
                && let Some(first) = runs.first_mut()
            {
                first.exit_code = 1;
            }
        }
        Some(o) if o.eq_ignore_ascii_case("succeed") => {
            for r in &mut runs {
                r.exit_code = 0;
            }
        }
        _ => {}
    }
    runs
}

/// The log text of one container: its echo output, then (once it has finished) a line saying
/// how it exited, so a failed hook's log is recognisable.
pub(crate) fn log_text(run: &ContainerRun, finished: bool) -> String {
    let mut s = String::new();
    for line in &run.output {
        s.push_str(line);
        s.push('\n');
    }
    if finished {
        let how = if run.exit_code == 0 {
            "Completed"
        } else {
            "Error"
        };
        s.push_str(&format!(
            "[kube-emulator] container \"{}\" exited with code {} ({how})\n",
            run.name, run.exit_code
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(c: Value) -> (Vec<String>, i32) {
        let r = simulate(&c);
        (r.output, r.exit_code)
    }

    #[test]
    fn shell_scripts() {
        assert_eq!(
            run(json!({"name": "c", "command": ["sh", "-c", "echo hello; echo 'a; b'"]})),
            (vec!["hello".into(), "a; b".into()], 0)
        );
        assert_eq!(
            run(
                json!({"name": "c", "command": ["/bin/sh", "-c"], "args": ["echo migrating && exit 3"]})
            ),
            (vec!["migrating".into()], 3)
        );
        assert_eq!(
            run(json!({"name": "c", "command": ["sh", "-c", "echo x; false"]})).1,
            1
        );
        assert_eq!(
            run(json!({"name": "c", "command": ["sh", "-c", "false || echo rescued"]})),
            (vec!["rescued".into()], 0)
        );
        assert_eq!(
            run(json!({"name": "c", "command": ["sh", "-c", "false && echo no"]})),
            (vec![], 1)
        );
    }

    #[test]
    fn exec_form() {
        assert_eq!(
            run(json!({"name": "c", "command": ["echo", "hello world"]})),
            (vec!["hello world".into()], 0)
        );
        assert_eq!(run(json!({"name": "c", "command": ["false"]})).1, 1);
        assert_eq!(run(json!({"name": "c", "image": "busybox"})), (vec![], 0));
    }

    #[test]
    fn forced_outcome_and_log() {
        let spec = json!({"containers": [{"name": "c", "command": ["echo", "hi"]}]});
        let runs = simulate_pod(&spec, Some("fail"));
        assert_eq!(runs[0].exit_code, 1);
        let log = log_text(&runs[0], true);
        assert!(log.starts_with("hi\n"));
        assert!(log.contains("exited with code 1 (Error)"));
        assert_eq!(
            simulate_pod(
                &json!({"containers": [{"name": "c", "command": ["false"]}]}),
                Some("succeed")
            )[0]
            .exit_code,
            0
        );
    }
}
