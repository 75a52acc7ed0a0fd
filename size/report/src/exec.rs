//! Running the tools: cargo (at low priority, one build at a time), qemu-system-arm with a
//! time limit, wasm-opt and Node.js, capturing what they print.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// What a finished (or stopped) command did.
#[derive(Debug)]
pub struct Finished {
    /// Its exit status code (`None`: killed by a signal, or stopped at the time limit).
    pub code: Option<i32>,
    /// Whether the time limit stopped it.
    pub timed_out: bool,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

impl Finished {
    /// Whether it exited with status 0.
    pub fn success(&self) -> bool {
        self.code == Some(0) && !self.timed_out
    }

    /// A line or two saying how it failed, from its last lines of output.
    pub fn failure(&self) -> String {
        let status = if self.timed_out {
            "timed out".to_string()
        } else {
            match self.code {
                Some(code) => format!("exit status {code}"),
                None => "killed by a signal".to_string(),
            }
        };
        let text = if self.stderr.trim().is_empty() {
            &self.stdout
        } else {
            &self.stderr
        };
        match first_error(text) {
            Some(line) => format!("{status}: {line}"),
            None => status,
        }
    }
}

/// The first line that reads as an error (`error…`), or the last non-empty line.
pub fn first_error(text: &str) -> Option<String> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines
        .iter()
        .find(|line| line.starts_with("error"))
        .or(lines.last())
        .map(|line| (*line).to_string())
}

/// Runs `command` to the end or until `limit` has passed (then kills it: the program itself,
/// not what it started, which may hold its pipes a while longer: then the output is cut
/// short), with no input, collecting its output.
///
/// # Errors
/// When the program cannot be started (not installed).
pub fn run(command: &mut Command, limit: Duration) -> std::io::Result<Finished> {
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > limit {
            timed_out = true;
            // It may have ended just now: then the kill fails harmlessly.
            let _ = child.kill();
            break child.wait()?;
        }
        thread::sleep(Duration::from_millis(20));
    };
    // After a kill, what the program started may keep the pipes open: wait for them briefly.
    let collect = |pipe: mpsc::Receiver<String>| {
        if timed_out {
            pipe.recv_timeout(Duration::from_secs(2))
                .unwrap_or_default()
        } else {
            pipe.recv().unwrap_or_default()
        }
    };
    Ok(Finished {
        code: status.code(),
        timed_out,
        stdout: collect(stdout),
        stderr: collect(stderr),
    })
}

/// Reads a pipe to its end on a thread of its own (so that neither pipe fills and blocks the
/// child), sending the text when the pipe closes.
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        let _ = sender.send(String::from_utf8_lossy(&bytes).into_owned());
    });
    receiver
}

/// A command for `program`, at a lower priority (`nice -n 10`) when `nice` is there: the
/// builds share the machine with other work.
pub fn niced(program: &str) -> Command {
    if found("nice") {
        let mut command = Command::new("nice");
        command.args(["-n", "10", program]);
        command
    } else {
        Command::new(program)
    }
}

/// Whether `program` is on the PATH.
pub fn found(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| is_executable(&dir.join(program)))
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// The first line `program args` prints (its version), or "unknown".
pub fn version(program: &str, args: &[&str], dir: &Path) -> String {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output();
    match output {
        Ok(output) if output.status.success() => String::from_utf8_lossy(&output.stdout)
            .lines()
            .next()
            .unwrap_or("unknown")
            .trim()
            .to_string(),
        _ => "unknown".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_and_captures() {
        let done = run(
            Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]),
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!((done.code, done.timed_out), (Some(3), false));
        assert_eq!((done.stdout.trim(), done.stderr.trim()), ("out", "err"));
        assert_eq!(done.failure(), "exit status 3: err");
    }

    #[test]
    fn stops_at_the_time_limit() {
        let started = Instant::now();
        let done = run(
            Command::new("sh").args(["-c", "exec sleep 5"]),
            Duration::from_millis(100),
        )
        .unwrap();
        assert!(done.timed_out && !done.success());
        assert!(started.elapsed() < Duration::from_secs(4));
    }

    #[test]
    fn finds_the_first_error_line() {
        let text = "warning: x\n  Compiling y\nerror[E0432]: unresolved import\nerror: aborting";
        assert_eq!(
            first_error(text).as_deref(),
            Some("error[E0432]: unresolved import")
        );
        assert_eq!(first_error("a\nlast\n\n").as_deref(), Some("last"));
        assert_eq!(first_error(""), None);
    }
}
