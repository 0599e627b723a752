//! Helpers shared by the end-to-end tests (the CLI's, the desktop app's) and the app layer's
//! tests: real git repositories, servers started on port 0 and read back, the fake agent.
//! Each test binary includes this file with `#[path]`; not every binary uses every helper.
#![allow(dead_code)]

use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The repository's root (where `Cargo.lock` is), whichever crate's test this is.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|p| p.join("Cargo.lock").is_file())
        .expect("tests run inside the repository")
        .to_path_buf()
}

/// The stand-in coding agent (`crates/core/assets/fake-agent.sh`): edits, commits on its
/// branch and writes a Claude Code session log; `fail`, `hang` and `slow` modes.
pub fn fake_agent() -> String {
    repo_root()
        .join("crates/core/assets/fake-agent.sh")
        .display()
        .to_string()
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `git ARGS` in `dir` as Alice (a real git, as a person at a terminal would run it).
pub fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=Alice", "-c", "user.email=alice@acme.dev"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts a `serve` or `demo` on port 0 and returns it with the port it printed, signed in
/// through the one-time link it printed. Letting the OS pick at bind time, rather than probing
/// for a free port first, leaves no gap in which another test's outgoing connections (or their
/// TIME_WAIT) can take the port.
pub fn spawn_listening(cmd: Command) -> (Server, Client) {
    let (server, printed, stderr) = spawn_until(cmd, "/login?code=");
    let Some((port, code)) = printed.iter().find_map(|l| sign_in_link(l)) else {
        panic!("no http sign-in link in {printed:?}; the server's stderr:\n{stderr}");
    };
    let client = Client::sign_in(port, &code).unwrap_or_else(|e| {
        panic!("signing in with the printed link failed: {e}; the server's stderr:\n{stderr}")
    });
    (server, client)
}

/// Starts `cmd` and returns it with the lines it printed up to the first holding `needle`, and
/// what it wrote to stderr by then (for a failure message). Panics, with the stderr, when the
/// process prints no such line within 3 minutes.
pub fn spawn_until(mut cmd: Command, needle: &str) -> (Server, Vec<String>, String) {
    let stderr = tempfile::NamedTempFile::new().unwrap();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(stderr.reopen().unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let (tx, rx) = std::sync::mpsc::channel();
    let wanted = needle.to_string();
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut sent = false;
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if !sent {
                let found = line.contains(&wanted);
                seen.push(line);
                if found {
                    let _ = tx.send(std::mem::take(&mut seen));
                    sent = true;
                }
            }
            // Keep draining so the server never blocks on a full pipe.
        }
    });
    let err = || std::fs::read_to_string(stderr.path()).unwrap_or_default();
    match rx.recv_timeout(Duration::from_secs(180)) {
        Ok(lines) => (server, lines, err()),
        Err(_) => panic!(
            "the server printed no line with `{needle}`; its stderr:\n{}",
            err()
        ),
    }
}

/// The port and code of a printed `http://127.0.0.1:PORT/login?code=CODE`.
pub fn sign_in_link(line: &str) -> Option<(u16, String)> {
    let (_, rest) = line.split_once("http://127.0.0.1:")?;
    let (port, rest) = rest.split_once("/login?code=")?;
    let code: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
    Some((port.parse().ok()?, code))
}

/// A browser's side of a running server: its port and the session cookie it signed in with.
pub struct Client {
    pub port: u16,
    pub cookie: String,
}

impl Client {
    /// Opens the sign-in link as a browser would and keeps the cookie it sets.
    pub fn sign_in(port: u16, code: &str) -> Result<Client, String> {
        let (status, head, _) = raw_get(port, &format!("/login?code={code}"), None)
            .ok_or("no answer from the server")?;
        let cookie = set_cookie(&head).ok_or(format!(
            "/login answered {status} without a cookie:\n{head}"
        ))?;
        Ok(Client { port, cookie })
    }

    /// GET `path` with the session; `None` when the server does not answer.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        raw_get(self.port, path, Some(&self.cookie)).map(|(s, _, b)| (s, b))
    }
}

/// The `name=value` of the first `Set-Cookie` in a response head.
pub fn set_cookie(head: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("set-cookie")
            .then(|| value.trim().split(';').next().unwrap_or("").to_string())
    })
}

/// One HTTP/1.1 GET: status, head and body.
pub fn raw_get(port: u16, path: &str, cookie: Option<&str>) -> Option<(u16, String, String)> {
    let headers: Vec<(&str, String)> = cookie
        .map(|c| ("Cookie", c.to_string()))
        .into_iter()
        .collect();
    raw_request(port, "GET", path, "", &headers)
}

/// One HTTP/1.1 request with a JSON body and extra headers: status, head and body.
pub fn raw_request(
    port: u16,
    method: &str,
    path: &str,
    body: &str,
    headers: &[(&str, String)],
) -> Option<(u16, String, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let typed = if body.is_empty() {
        String::new()
    } else {
        format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        )
    };
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{typed}{extra}Connection: close\r\n\r\n{body}"
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let status = buf.split_whitespace().nth(1)?.parse().ok()?;
    let (head, body) = buf.split_once("\r\n\r\n").unwrap_or((&buf, ""));
    Some((status, head.to_string(), body.to_string()))
}

/// A child process killed (and reaped) when the test ends, however it ends.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A repository on `main` with one commit.
pub fn new_repo(path: &std::path::Path) -> git2::Repository {
    let mut init = git2::RepositoryInitOptions::new();
    init.initial_head("main");
    let repo = git2::Repository::init_opts(path, &init).unwrap();
    commit_on(&repo, "main", "a.txt", "Initial commit");
    repo
}

/// Commits `file` on `branch` (created from HEAD when new) in a real repository.
pub fn commit_on(repo: &git2::Repository, branch: &str, file: &str, message: &str) {
    let workdir = repo.workdir().unwrap().to_path_buf();
    std::fs::write(workdir.join(file), message).unwrap();
    let mut index = repo.index().unwrap();
    index.add_path(std::path::Path::new(file)).unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::now("Alice", "alice@acme.dev").unwrap();
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    let refname = format!("refs/heads/{branch}");
    repo.commit(Some(&refname), &sig, &sig, message, &tree, &parents)
        .unwrap();
}

/// A commit on `branch` made without touching the work tree or index (as an agent working in
/// another worktree would).
pub fn agent_commit(repo: &git2::Repository, branch: &str, file: &str, body: &str) -> String {
    let parent = repo.head().unwrap().peel_to_commit().unwrap();
    let mut tb = repo.treebuilder(Some(&parent.tree().unwrap())).unwrap();
    tb.insert(file, repo.blob(body.as_bytes()).unwrap(), 0o100644)
        .unwrap();
    let tree = repo.find_tree(tb.write().unwrap()).unwrap();
    let sig = git2::Signature::now("Claude", "noreply@anthropic.com").unwrap();
    repo.commit(
        Some(&format!("refs/heads/{branch}")),
        &sig,
        &sig,
        &format!("Add {file}"),
        &tree,
        &[&parent],
    )
    .unwrap()
    .to_string()
}
