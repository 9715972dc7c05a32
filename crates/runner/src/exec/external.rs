//! Running an external method: its command, as an argv vector (never through a shell), in
//! the run's own directory `<out>/external/<run_id>/`, with the inputs of protocol version 1
//! written there first ([`scorematch::external`]). The command gets its own process group,
//! killed as a whole on a timeout (`timeout_s`) or when the sweep is stopped; on Linux the
//! command also dies with the runner (a `kill -9` of the sweep leaves no orphan behind).
//! Every failure — a command that cannot start, a non-zero exit, a timeout, missing,
//! misshapen or non-finite outputs — is an error with a one-line reason; the command's last
//! stderr lines are kept in the run directory (`command_stderr.txt`). Only the end of what
//! the command wrote to stderr is read: at most [`STDERR_BYTES`] are kept, and the error
//! quotes at most [`LINE_CHARS`] characters of its last line, control characters replaced.

use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use scorematch::model::ModelConfig;
use scorematch::{Error, Progress, RunConfig};

use super::Finished;
use crate::store::artifacts::Artifact;

/// Lines of the command's stderr kept with its run.
const STDERR_LINES: usize = 40;

/// The most bytes of the command's stderr read (its end) and kept with its run.
pub const STDERR_BYTES: u64 = 64 * 1024;

/// The most characters of the last stderr line quoted in the error (its end).
pub const LINE_CHARS: usize = 300;

/// The file the command's stderr tail is kept in, inside the run directory.
pub const STDERR_FILE: &str = "command_stderr.txt";

fn failed(message: impl Into<String>) -> Error {
    Error::External(message.into())
}

/// An argument that names a file relative to the runner's working directory, made absolute
/// (the command runs in the run's directory).
fn resolved(arg: &str) -> String {
    let path = Path::new(arg);
    if path.is_relative()
        && path.exists()
        && let Ok(p) = path.canonicalize()
    {
        return p.to_string_lossy().into_owned();
    }
    arg.to_string()
}

/// Runs `config`'s external method in `dir` and judges its outputs.
pub fn run(
    config: &RunConfig,
    dir: &Path,
    progress: &mut dyn Progress,
) -> scorematch::Result<Finished> {
    let ModelConfig::External(method) = &config.model else {
        return Err(failed("not an external method"));
    };
    let io = |e: std::io::Error| failed(format!("{}: {e}", dir.display()));
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(io)?;
    }
    std::fs::create_dir_all(dir).map_err(io)?;
    let prepared = scorematch::external::prepare(config, dir)?;
    let program = method.command.first().ok_or_else(|| failed("no command"))?;
    let mut command = Command::new(resolved(program));
    command
        .args(method.command[1..].iter().map(|a| resolved(a)))
        .current_dir(dir)
        .env(
            "SCOREMATCH_RUN_JSON",
            dir.join(scorematch::external::RUN_JSON),
        )
        .stdin(Stdio::null())
        .stdout(File::create(dir.join("stdout.txt")).map_err(io)?)
        .stderr(File::create(dir.join("stderr.txt")).map_err(io)?)
        .process_group(0);
    die_with_parent(&mut command);
    let start = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|e| failed(format!("cannot start {program}: {e}")))?;
    let group = child.id();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => {
                kill_group(group);
                return Err(failed(format!("lost track of {program}: {e}")));
            }
        }
        if progress.stop_requested() {
            kill_group(group);
            let _ = child.wait();
            return Err(Error::Interrupted { step: 0 });
        }
        if start.elapsed().as_secs_f64() > method.timeout() {
            kill_group(group);
            let _ = child.wait();
            return Err(failed(format!(
                "{program} timed out after {} s (timeout_s){}",
                method.timeout(),
                last_line(dir)
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // Whatever the command left running in its group goes with it.
    kill_group(group);
    let wall = start.elapsed().as_secs_f64();
    if !status.success() {
        return Err(failed(format!("{program} {status}{}", last_line(dir))));
    }
    let (report, _samples) = scorematch::external::evaluate(config, &prepared, dir, wall)?;
    Ok(Finished {
        report,
        artifacts: stderr_artifact(dir),
    })
}

/// `; last stderr line: "…"` when the command wrote one: the end of its last non-empty line,
/// at most [`LINE_CHARS`] characters, control characters replaced by spaces.
fn last_line(dir: &Path) -> String {
    let text = stderr_tail(dir);
    let Some(line) = text.lines().rev().find(|l| !l.trim().is_empty()) else {
        return String::new();
    };
    let line = line.trim();
    let chars = line.chars().count();
    let kept: String = line
        .chars()
        .skip(chars.saturating_sub(LINE_CHARS))
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let cut = if chars > LINE_CHARS { "…" } else { "" };
    format!("; last stderr line: \"{cut}{}\"", kept.replace('"', "'"))
}

/// The last [`STDERR_BYTES`] of the command's stderr (lossy UTF-8; empty if there is none).
fn stderr_tail(dir: &Path) -> String {
    let Ok(mut file) = File::open(dir.join("stderr.txt")) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut bytes = Vec::new();
    if file
        .seek(SeekFrom::Start(len.saturating_sub(STDERR_BYTES)))
        .and_then(|_| file.take(STDERR_BYTES).read_to_end(&mut bytes))
        .is_err()
    {
        return String::new();
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The command's last stderr lines (at most [`STDERR_LINES`] lines and [`STDERR_BYTES`]
/// bytes), kept with its run (also when it failed).
pub fn stderr_artifact(dir: &Path) -> Vec<Artifact> {
    let text = stderr_tail(dir);
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(STDERR_LINES)..].join("\n");
    vec![Artifact {
        name: STDERR_FILE,
        bytes: tail.into_bytes(),
    }]
}

/// The directory an external run works in, under the results directory.
pub fn work_dir(out: &Path, run_id: &str) -> PathBuf {
    out.join("external").join(run_id)
}

/// Sends SIGKILL to the process group `group` (the command and whatever it started).
#[allow(unsafe_code)] // the killpg call; see SAFETY below
fn kill_group(group: u32) {
    let Ok(pgid) = libc::pid_t::try_from(group) else {
        return;
    };
    // SAFETY: killpg only sends a signal; a group that is already gone gives ESRCH, which is
    // ignored.
    unsafe {
        libc::killpg(pgid, libc::SIGKILL);
    }
}

/// Makes the command receive SIGKILL when the thread that started it dies (Linux), so that a
/// runner killed with SIGKILL leaves no orphaned command.
#[allow(unsafe_code)] // the pre_exec hook; see SAFETY below
fn die_with_parent(command: &mut Command) {
    #[cfg(target_os = "linux")]
    // SAFETY: the closure runs in the child between fork and exec and only calls prctl, which
    // is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    #[cfg(not(target_os = "linux"))]
    let _ = command;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn megabytes_of_stderr_without_a_newline_give_a_short_clean_reason_and_a_capped_tail() {
        let dir = tempfile::tempdir().unwrap();
        let mut flood = "starting\n".to_string();
        flood.push_str(&"x\u{1b}[31m\r\t".repeat(1_000_000));
        flood.push_str("the end");
        std::fs::write(dir.path().join("stderr.txt"), &flood).unwrap();
        let reason = last_line(dir.path());
        assert!(reason.starts_with("; last stderr line: \"…"), "{reason}");
        assert!(reason.ends_with("the end\""), "{reason}");
        assert!(
            reason.chars().count() <= LINE_CHARS + 30,
            "{}",
            reason.len()
        );
        assert!(!reason.chars().any(char::is_control), "{reason:?}");
        let kept = &stderr_artifact(dir.path())[0].bytes;
        assert!(!kept.is_empty() && kept.len() as u64 <= STDERR_BYTES);
        assert!(kept.ends_with(b"the end"));
    }

    #[test]
    fn a_short_last_line_is_quoted_whole() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("stderr.txt"), "a\nboom: \"bad\"\n\n").unwrap();
        assert_eq!(last_line(dir.path()), "; last stderr line: \"boom: 'bad'\"");
        let kept = &stderr_artifact(dir.path())[0].bytes;
        assert_eq!(kept, b"a\nboom: \"bad\"\n");
    }
}
