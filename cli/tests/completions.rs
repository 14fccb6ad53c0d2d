//! `meshtls completions` and `meshtls man`: generated from the parser itself, so they must name
//! the real subcommands and flags, and fail like every other command on bad input.

mod common;

use common::*;
use predicates::prelude::*;

#[test]
fn bash_completion_knows_the_commands_and_flags() {
    meshtls()
        .args(["completions", "bash"])
        .assert()
        .success()
        .stdout(predicate::str::contains("complete -F _meshtls"))
        .stdout(predicate::str::contains("verify"))
        .stdout(predicate::str::contains("--trust-domain"));
}

#[test]
fn zsh_and_fish_completions_are_for_meshtls() {
    meshtls()
        .args(["completions", "zsh"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("#compdef meshtls"))
        .stdout(predicate::str::contains("issue"));
    meshtls()
        .args(["completions", "fish"])
        .assert()
        .success()
        .stdout(predicate::str::contains("complete -c meshtls"))
        .stdout(predicate::str::contains("renew"));
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    meshtls()
        .args(["completions", "tcsh"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid value 'tcsh'"));
}

#[test]
fn man_page_on_stdout() {
    meshtls()
        .arg("man")
        .assert()
        .success()
        .stdout(predicate::str::contains(".TH meshtls 1"))
        .stdout(predicate::str::contains("verify"));
}

#[test]
fn man_pages_into_a_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("man1");
    meshtls()
        .args(["man", "--out-dir"])
        .arg(&out)
        .assert()
        .success();
    for page in ["meshtls.1", "meshtls-verify.1", "meshtls-ca-init.1"] {
        let text = std::fs::read_to_string(out.join(page)).expect(page);
        assert!(text.contains(".TH meshtls"), "{page}: {text}");
    }
}

#[test]
fn man_out_dir_under_a_file_is_an_io_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("plain");
    std::fs::write(&file, b"x").expect("write");
    meshtls()
        .args(["man", "--out-dir"])
        .arg(file.join("man1"))
        .assert()
        .code(3);
}
