//! JUnit XML, the test report CI systems read (Jenkins, GitLab, GitHub test reporters):
//! `<testsuites>` of `<testsuite>`s of `<testcase>`s, each passed, failed or skipped.
//! Written to the common `junit-10.xsd` shape.

use std::fmt::Write as _;
use std::time::Duration;

#[derive(Debug)]
pub(crate) struct TestSuites {
    pub name: String,
    pub suites: Vec<TestSuite>,
}

#[derive(Debug)]
pub(crate) struct TestSuite {
    pub name: String,
    /// The file the suite came from, when there is one.
    pub file: Option<String>,
    pub cases: Vec<TestCase>,
}

#[derive(Debug)]
pub(crate) struct TestCase {
    pub name: String,
    pub classname: String,
    pub time: Duration,
    pub result: TestResult,
    /// Output worth keeping whatever the result (e.g. a hook's logs).
    pub output: Option<String>,
}

#[derive(Debug)]
pub(crate) enum TestResult {
    Passed,
    /// `message` is one line; `details` the rest (problems, a log tail).
    Failed {
        kind: String,
        message: String,
        details: String,
    },
    Skipped {
        message: String,
    },
}

impl TestSuite {
    fn failures(&self) -> usize {
        self.cases
            .iter()
            .filter(|c| matches!(c.result, TestResult::Failed { .. }))
            .count()
    }

    fn skipped(&self) -> usize {
        self.cases
            .iter()
            .filter(|c| matches!(c.result, TestResult::Skipped { .. }))
            .count()
    }

    fn time(&self) -> Duration {
        self.cases.iter().map(|c| c.time).sum()
    }
}

impl TestSuites {
    pub(crate) fn render(&self) -> String {
        let tests: usize = self.suites.iter().map(|s| s.cases.len()).sum();
        let failures: usize = self.suites.iter().map(TestSuite::failures).sum();
        let time: Duration = self.suites.iter().map(TestSuite::time).sum();
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            out,
            "<testsuites name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"{}\">",
            escape(&self.name),
            seconds(time)
        );
        for suite in &self.suites {
            let _ = write!(
                out,
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{}\"",
                escape(&suite.name),
                suite.cases.len(),
                suite.failures(),
                suite.skipped(),
                seconds(suite.time())
            );
            if let Some(file) = &suite.file {
                let _ = write!(out, " file=\"{}\"", escape(file));
            }
            out.push_str(">\n");
            for case in &suite.cases {
                let _ = write!(
                    out,
                    "    <testcase name=\"{}\" classname=\"{}\" time=\"{}\"",
                    escape(&case.name),
                    escape(&case.classname),
                    seconds(case.time)
                );
                if matches!(case.result, TestResult::Passed) && case.output.is_none() {
                    out.push_str("/>\n");
                    continue;
                }
                out.push_str(">\n");
                match &case.result {
                    TestResult::Passed => {}
                    TestResult::Failed {
                        kind,
                        message,
                        details,
                    } => {
                        let _ = writeln!(
                            out,
                            "      <failure type=\"{}\" message=\"{}\">{}</failure>",
                            escape(kind),
                            escape(message),
                            escape(details)
                        );
                    }
                    TestResult::Skipped { message } => {
                        let _ = writeln!(out, "      <skipped message=\"{}\"/>", escape(message));
                    }
                }
                if let Some(output) = &case.output {
                    let _ = writeln!(out, "      <system-out>{}</system-out>", escape(output));
                }
                out.push_str("    </testcase>\n");
            }
            out.push_str("  </testsuite>\n");
        }
        out.push_str("</testsuites>\n");
        out
    }
}

/// Seconds with millisecond precision: the schema allows at most three decimals.
fn seconds(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

/// Text and attribute values: the five XML specials escaped, and characters XML 1.0
/// cannot carry at all (most control characters, which guest and log text may hold)
/// shown as `\u{…}` instead of making the document unreadable.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' => out.push(c),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_specials_and_characters_xml_cannot_carry() {
        assert_eq!(
            escape("a<b & \"c\" 'd'>\u{1b}[31m\r\n"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;\\u{1b}[31m&#13;\n"
        );
    }

    #[test]
    fn counts_and_shapes() {
        let report = TestSuites {
            name: "n".into(),
            suites: vec![TestSuite {
                name: "s".into(),
                file: Some("f.yaml".into()),
                cases: vec![
                    TestCase {
                        name: "ok".into(),
                        classname: "c".into(),
                        time: Duration::from_millis(1500),
                        result: TestResult::Passed,
                        output: None,
                    },
                    TestCase {
                        name: "bad".into(),
                        classname: "c".into(),
                        time: Duration::from_millis(2),
                        result: TestResult::Failed {
                            kind: "mismatch".into(),
                            message: "m".into(),
                            details: "d".into(),
                        },
                        output: Some("log".into()),
                    },
                    TestCase {
                        name: "later".into(),
                        classname: "c".into(),
                        time: Duration::ZERO,
                        result: TestResult::Skipped {
                            message: "not run".into(),
                        },
                        output: None,
                    },
                ],
            }],
        };
        let xml = report.render();
        assert!(
            xml.contains(
                "<testsuites name=\"n\" tests=\"3\" failures=\"1\" errors=\"0\" time=\"1.502\">"
            ),
            "{xml}"
        );
        assert!(
            xml.contains("skipped=\"1\" time=\"1.502\" file=\"f.yaml\">"),
            "{xml}"
        );
        assert!(xml.contains("<testcase name=\"ok\" classname=\"c\" time=\"1.500\"/>"));
        assert!(xml.contains("<failure type=\"mismatch\" message=\"m\">d</failure>"));
        assert!(xml.contains("<system-out>log</system-out>"));
        assert!(xml.contains("<skipped message=\"not run\"/>"));
    }
}
