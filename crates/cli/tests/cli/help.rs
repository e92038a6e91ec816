//! Help text is the first documentation people read: snapshot it so changes are reviewed.

use crate::util::{run, transcript};

#[test]
fn top_level_help() {
    insta::assert_snapshot!(transcript(&run(&["--help"])));
}

#[test]
fn plan_help() {
    insta::assert_snapshot!(transcript(&run(&["plan", "--help"])));
}

#[test]
fn run_help() {
    insta::assert_snapshot!(transcript(&run(&["run", "--help"])));
}

#[test]
fn gc_help() {
    insta::assert_snapshot!(transcript(&run(&["gc", "--help"])));
}

#[test]
fn no_arguments_is_a_usage_error() {
    let output = run(&[]);
    assert_eq!(output.status.code(), Some(2), "{}", transcript(&output));
}
