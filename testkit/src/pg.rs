//! A throw-away PostgreSQL cluster for tests: `initdb` in a temporary directory, `pg_ctl`
//! on a free loopback port, stopped (and its directory removed) when dropped — and by a
//! watchdog process if the test process dies without dropping it.
//!
//! The server binaries are Debian's `postgresql` package (`scripts/test.sh` installs it):
//! found in `ZKCREDIT_PG_BINDIR`, else `pg_config --bindir`, else the newest
//! `/usr/lib/postgresql/*/bin`. Missing, [`PgCluster::start`] fails saying how to install
//! it. `initdb` refuses to run as root, so as root every server command runs as the
//! `postgres` user (`runuser -u postgres --`) on a directory it owns.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// How to get the server when it is missing.
pub const INSTALL_HINT: &str = "PostgreSQL's server is not installed: run `apt-get install -y postgresql` (scripts/test.sh does this), or set ZKCREDIT_PG_BINDIR to the directory holding initdb and pg_ctl";

/// The database role the cluster is created with (trust authentication, loopback only).
pub const USER: &str = "zkcredit";

/// A running throw-away cluster.
#[derive(Debug)]
pub struct PgCluster {
    _dir: tempfile::TempDir,
    data: PathBuf,
    log: PathBuf,
    bindir: PathBuf,
    port: u16,
    as_postgres: bool,
    watchdog: Option<std::process::Child>,
}

/// The directory holding `initdb`, `pg_ctl` and `psql`.
pub fn bindir() -> Result<PathBuf, String> {
    let has = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    if let Some(d) = std::env::var_os("ZKCREDIT_PG_BINDIR") {
        let d = PathBuf::from(d);
        return if has(&d) {
            Ok(d)
        } else {
            Err(format!(
                "ZKCREDIT_PG_BINDIR={}: no initdb/pg_ctl there. {INSTALL_HINT}",
                d.display()
            ))
        };
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let d = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && has(&d) {
            return Ok(d);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            Some((v, e.path().join("bin")))
        })
        .filter(|(_, d)| has(d))
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, d)| d)
        .ok_or_else(|| INSTALL_HINT.to_string())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn id_of(flag: &str) -> Result<u32, String> {
    let o = Command::new("id")
        .args([flag, "postgres"])
        .output()
        .map_err(|e| format!("id {flag} postgres: {e}"))?;
    String::from_utf8_lossy(&o.stdout)
        .trim()
        .parse()
        .map_err(|_| format!("no `postgres` user to run the server as. {INSTALL_HINT}"))
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

impl PgCluster {
    /// `initdb` and start a cluster on a free loopback port (about 2 s).
    pub fn start() -> Result<Self, String> {
        let bindir = bindir()?;
        let dir = tempfile::Builder::new()
            .prefix("zkpg")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let data = dir.path().join("data");
        std::fs::create_dir(&data).map_err(|e| e.to_string())?;
        let as_postgres = is_root();
        if as_postgres {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
                .map_err(|e| e.to_string())?;
            std::os::unix::fs::chown(&data, Some(id_of("-u")?), Some(id_of("-g")?))
                .map_err(|e| format!("chown {}: {e}", data.display()))?;
        }
        let mut c = Self {
            log: dir.path().join("data/server.log"),
            _dir: dir,
            data,
            bindir,
            port: free_port()?,
            as_postgres,
            watchdog: None,
        };
        c.run(
            "initdb",
            &[
                "-D",
                &c.path(&c.data),
                "-A",
                "trust",
                "-U",
                USER,
                "--no-sync",
                "-E",
                "UTF8",
            ],
        )?;
        // The free port may be taken between the probe and the start (parallel tests).
        let mut tries = 0;
        while let Err(e) = c.start_server() {
            tries += 1;
            if tries == 5 {
                return Err(e);
            }
            c.port = free_port()?;
        }
        c.watchdog = Some(
            c.spawn_watchdog()
                .map_err(|e| format!("the cluster's watchdog did not start: {e}"))?,
        );
        Ok(c)
    }

    fn path(&self, p: &Path) -> String {
        p.display().to_string()
    }

    fn command(&self, tool: &str) -> Command {
        let exe = self.bindir.join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    fn run(&self, tool: &str, args: &[&str]) -> Result<String, String> {
        let out = self
            .command(tool)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{tool}: {e}. {INSTALL_HINT}"))?;
        if !out.status.success() {
            return Err(format!(
                "{tool} {args:?} failed: {}{}\nserver log: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(&self.log).unwrap_or_default()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Starts the server (again, after [`PgCluster::stop_server`]) and waits until it accepts
    /// connections.
    pub fn start_server(&self) -> Result<(), String> {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200",
            self.port,
            self.path(&self.data)
        );
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.path(&self.data),
                "-o",
                &opts,
                "-l",
                &self.path(&self.log),
                "-w",
                "-t",
                "60",
                "start",
            ],
        )
        .map(|_| ())
    }

    /// Stops the server (`pg_ctl stop -m fast`: open connections are cut).
    pub fn stop_server(&self) -> Result<(), String> {
        self.run(
            "pg_ctl",
            &["-D", &self.path(&self.data), "-m", "fast", "-w", "stop"],
        )
        .map(|_| ())
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `db` (create it first with [`PgCluster::create_database`]).
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{db}", self.port)
    }

    /// `CREATE DATABASE db`; returns its URL.
    pub fn create_database(&self, db: &str) -> Result<String, String> {
        self.psql("postgres", &format!("CREATE DATABASE {db}"))?;
        Ok(self.url(db))
    }

    /// Runs `sql` in `db` with `psql`; the output unaligned, tuples only.
    pub fn psql(&self, db: &str, sql: &str) -> Result<String, String> {
        let out = Command::new(self.bindir.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                USER,
                "-d",
                db,
            ])
            .args(["-c", sql])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("psql: {e}. {INSTALL_HINT}"))?;
        if !out.status.success() {
            return Err(format!(
                "psql {sql:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// The server log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops the cluster (`-m immediate`) once this process is gone, should it die
    /// without dropping the cluster.
    fn spawn_watchdog(&self) -> std::io::Result<std::process::Child> {
        let stop = format!(
            "{}'{}' -D '{}' -m immediate stop",
            if self.as_postgres {
                "runuser -u postgres -- "
            } else {
                ""
            },
            self.bindir.join("pg_ctl").display(),
            self.path(&self.data)
        );
        let script = format!(
            "while kill -0 {} 2>/dev/null && [ -d '{}' ]; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf '{}'",
            std::process::id(),
            self.path(&self.data),
            self.path(self._dir.path())
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self.run(
            "pg_ctl",
            &[
                "-D",
                &self.path(&self.data),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throw_away_cluster_starts_answers_restarts_and_is_gone_after_drop() {
        let c = PgCluster::start().unwrap_or_else(|e| panic!("{e}"));
        c.create_database("t").unwrap();
        assert_eq!(c.psql("t", "SELECT 40 + 2").unwrap(), "42");
        c.stop_server().unwrap();
        assert!(c.psql("t", "SELECT 1").is_err(), "stopped");
        c.start_server().unwrap();
        assert_eq!(c.psql("t", "SELECT 1").unwrap(), "1");
        let data = c.data.clone();
        drop(c);
        assert!(!data.exists(), "the cluster's directory is removed");
    }
}
