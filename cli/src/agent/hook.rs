//! Reload hooks: a shell command, or a signal to the PID in a file.

use std::process::Command;

use super::config::Hook;

/// Runs `hook` and waits for it; `Err` says why it failed.
pub fn run(hook: &Hook) -> Result<(), String> {
    match hook {
        Hook::Exec(cmd) => {
            let status = Command::new("sh")
                .arg("-c")
                .arg(cmd)
                .status()
                .map_err(|e| format!("`{cmd}` could not run: {e}"))?;
            if status.success() {
                Ok(())
            } else {
                Err(format!("`{cmd}` exited with {status}"))
            }
        }
        Hook::Signal { pid_file, signal } => {
            let text = std::fs::read_to_string(pid_file)
                .map_err(|e| format!("{}: {e}", pid_file.display()))?;
            let pid: u32 = text
                .trim()
                .parse()
                .map_err(|_| format!("{}: not a PID: {:?}", pid_file.display(), text.trim()))?;
            if pid == 0 {
                return Err(format!("{}: PID 0", pid_file.display()));
            }
            let status = Command::new("kill")
                .args(["-s", signal, &pid.to_string()])
                .status()
                .map_err(|e| format!("kill could not run: {e}"))?;
            if status.success() {
                Ok(())
            } else {
                Err(format!("kill -s {signal} {pid} exited with {status}"))
            }
        }
    }
}
