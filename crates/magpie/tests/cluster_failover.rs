//! Failover of a real cluster: three `magpie serve` processes sharing one
//! database and one Redis, behind a real nginx running the configuration
//! shipped in `deploy/nginx/`. While a sender streams messages through
//! nginx, one node is SIGKILLed, Redis is killed and restarted, and another
//! node is drained with SIGTERM. Every device must end up with every acked
//! message exactly once, in order.
//!
//! Needs nginx (with the stream module), redis-server and PostgreSQL (or the
//! engine named by `MAGPIE_E2E_DATABASE`); `.ci/run` runs it with
//! `--ignored`.

use magpie_client::{Accept, Client, SyncState};
use magpie_proto::Push;
use magpie_testkit::{
    RedisProcess, ServerProcess, TestDatabase, e2e_admin_url, free_port, wait_for_port,
};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::time::{Instant, sleep, timeout};

const PASSWORD: &str = "correct horse battery";
/// Messages in the stream; the failures happen at fixed points in it.
const MESSAGES: usize = 240;

/// One `magpie serve` of the cluster, on ports chosen for nginx's config.
struct Node {
    process: ServerProcess,
    tcp: u16,
    http: u16,
}

impl Node {
    fn start(db_url: &str, redis_url: &str, cluster: &str, data_dir: &Path) -> Node {
        let (tcp, http) = (free_port(), free_port());
        let mut command = Command::new(env!("CARGO_BIN_EXE_magpie"));
        command
            .arg("serve")
            .args(["--listen-tcp", &format!("127.0.0.1:{tcp}")])
            .args(["--listen-http", &format!("127.0.0.1:{http}")])
            .arg("--data-dir")
            .arg(data_dir)
            .env("MAGPIE_DATABASE_URL", db_url)
            .env("MAGPIE_REDIS_URL", redis_url)
            .env("MAGPIE_CLUSTER_NAME", cluster)
            .env("MAGPIE_IDLE_TIMEOUT_SECS", "10")
            .env("MAGPIE_SHUTDOWN_GRACE_SECS", "5")
            .env("MAGPIE_LOG", "warn");
        Node {
            process: ServerProcess::spawn(command),
            tcp,
            http,
        }
    }
}

/// nginx with the shipped configuration, its ports rewritten to this test's.
struct Nginx {
    child: Child,
    tcp: u16,
    http: u16,
}

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

impl Nginx {
    fn start(nodes: &[Node], dir: &Path) -> Nginx {
        let (tcp, http) = (free_port(), free_port());
        let mut stream = std::fs::read_to_string(repo_file("deploy/nginx/magpie-stream.conf"))
            .expect("stream conf");
        let mut site =
            std::fs::read_to_string(repo_file("deploy/nginx/magpie-http.conf")).expect("http conf");
        stream = stream.replace("listen 7070;", &format!("listen 127.0.0.1:{tcp};"));
        site = site.replace("listen 7071;", &format!("listen 127.0.0.1:{http};"));
        for (i, node) in nodes.iter().enumerate() {
            stream = stream.replace(
                &format!("127.0.0.1:710{}", i + 1),
                &format!("127.0.0.1:{}", node.tcp),
            );
            site = site.replace(
                &format!("127.0.0.1:720{}", i + 1),
                &format!("127.0.0.1:{}", node.http),
            );
        }
        assert!(
            !stream.contains(":710") && !site.contains(":720"),
            "every upstream rewritten"
        );
        std::fs::write(dir.join("magpie-stream.conf"), stream).expect("write");
        std::fs::write(dir.join("magpie-http.conf"), site).expect("write");
        let module = Path::new("/usr/lib/nginx/modules/ngx_stream_module.so");
        let load = if module.exists() {
            format!("load_module {};\n", module.display())
        } else {
            String::new()
        };
        let d = dir.display();
        let main = format!(
            "{load}worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
             events {{ worker_connections 1024; }}\ninclude {d}/magpie-stream.conf;\n\
             http {{\n access_log off;\n client_body_temp_path {d}/body;\n proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\n uwsgi_temp_path {d}/uwsgi;\n scgi_temp_path {d}/scgi;\n\
             include {d}/magpie-http.conf;\n}}\n"
        );
        std::fs::write(dir.join("nginx.conf"), main).expect("write");
        let child = Command::new("nginx")
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .args(["-g", "daemon off;"])
            // Workers inherit these; they must not hold the test's pipes.
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx must be installed for the failover suite");
        wait_for_port(tcp, "nginx (stream)");
        wait_for_port(http, "nginx (http)");
        Nginx { child, tcp, http }
    }
}

impl Drop for Nginx {
    /// SIGTERM, so the master stops its workers (SIGKILL would orphan them).
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Connect and resume, retrying while nodes come and go.
async fn connect_resume(url: &str, token: &str) -> Client {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(client) = Client::connect(url).await
            && client.resume(token).await.is_ok()
        {
            return client;
        }
        assert!(
            Instant::now() < deadline,
            "could not reconnect through {url}"
        );
        sleep(Duration::from_millis(200)).await;
    }
}

/// A receiving device that does what a real client does: show new
/// messages, drop duplicates, fill gaps and resyncs with `sync`, and
/// reconnect (through nginx, to whichever node) when the connection drops.
struct Device {
    url: String,
    token: String,
    client: Client,
    state: SyncState,
    shown: Vec<i64>,
    reconnects: usize,
}

impl Device {
    async fn catch_up(&mut self) {
        loop {
            match self.state.catch_up(&self.client).await {
                Ok(messages) => {
                    self.shown.extend(messages.iter().map(|m| m.seq));
                    return;
                }
                Err(_) => self.reconnect().await,
            }
        }
    }

    async fn reconnect(&mut self) {
        self.client = connect_resume(&self.url, &self.token).await;
        self.reconnects += 1;
    }

    /// Receive until `want` messages have been shown.
    async fn run(mut self, want: usize) -> Device {
        self.catch_up().await;
        while self.shown.len() < want {
            match timeout(Duration::from_secs(2), self.client.next_push()).await {
                Ok(Some(Push::Message(m))) => match self.state.accept(&m) {
                    Accept::New => self.shown.push(m.seq),
                    Accept::Duplicate => {}
                    Accept::Gap => self.catch_up().await,
                },
                Ok(Some(Push::Resync(_))) => self.catch_up().await,
                Ok(Some(_)) => {}
                Ok(None) => {
                    self.reconnect().await;
                    self.catch_up().await;
                }
                // Quiet for a while: make sure nothing was missed.
                Err(_) => self.catch_up().await,
            }
        }
        self
    }
}

async fn run_failover(admin_url: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = TestDatabase::create(admin_url).await;
    let mut redis = RedisProcess::start();
    let cluster = format!("failover{}", std::process::id());
    let mut nodes: Vec<Node> = (0..3)
        .map(|i| {
            let data = dir.path().join(format!("node{i}"));
            Node::start(&db.url, &redis.url(), &cluster, &data)
        })
        .collect();
    let nginx = Nginx::start(&nodes, dir.path());
    let tcp = format!("tcp://127.0.0.1:{}", nginx.tcp);
    let ws = format!("ws://127.0.0.1:{}/ws", nginx.http);

    let setup = Client::connect(&tcp).await.expect("connect through nginx");
    setup.register("alice", PASSWORD).await.expect("register");
    setup.register("bob", PASSWORD).await.expect("register");
    // Bob has three devices, spread over the nodes by nginx: two over TCP,
    // one over WebSocket.
    let mut devices = Vec::new();
    for url in [&tcp, &tcp, &ws] {
        let client = Client::connect(url).await.expect("connect");
        let auth = client.login("bob", PASSWORD, None).await.expect("login");
        devices.push(Device {
            url: url.clone(),
            token: auth.token.expect("token"),
            client,
            state: SyncState::new(),
            shown: Vec::new(),
            reconnects: 0,
        });
    }
    let receivers: Vec<_> = devices
        .into_iter()
        .map(|d| tokio::spawn(d.run(MESSAGES)))
        .collect();

    let mut alice = Client::connect(&tcp).await.expect("connect");
    let token = alice
        .login("alice", PASSWORD, None)
        .await
        .expect("login")
        .token
        .expect("token");
    let mut acked = Vec::new();
    let mut sender_reconnects = 0;
    for i in 0..MESSAGES {
        match i {
            80 => nodes[0].process.kill(),
            140 => redis.kill(),
            160 => redis = RedisProcess::start_on(redis.port),
            200 => nodes[1].process.terminate(),
            _ => {}
        }
        let cmid = format!("m{i}");
        let ack = loop {
            match alice
                .send_with_cmid("bob", &cmid, &format!("message {i}"))
                .await
            {
                Ok(ack) => break ack,
                // Not acked: reconnect and retry with the same cmid, which
                // stores it at most once.
                Err(_) => {
                    sleep(Duration::from_millis(100)).await;
                    alice = connect_resume(&tcp, &token).await;
                    sender_reconnects += 1;
                }
            }
        };
        acked.push(ack.seq);
        sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        acked,
        (1..=MESSAGES as i64).collect::<Vec<_>>(),
        "acks are gapless and in order"
    );

    let mut total_reconnects = sender_reconnects;
    for receiver in receivers {
        let device = timeout(Duration::from_secs(60), receiver)
            .await
            .expect("device caught up in time")
            .expect("device task");
        assert_eq!(
            device.shown,
            (1..=MESSAGES as i64).collect::<Vec<_>>(),
            "a device ({}) saw every acked message once, in order",
            device.url
        );
        total_reconnects += device.reconnects;
    }
    assert!(
        total_reconnects > 0,
        "the failures were felt by some client (else this test proves nothing)"
    );
    drop(nginx);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs nginx, redis-server and a database; .ci/run runs it"]
async fn nothing_acked_is_lost_when_a_node_dies_redis_restarts_and_a_node_drains() {
    run_failover(&e2e_admin_url()).await;
}

/// A SIGKILLed node cannot say goodbye: its users' contacts on other nodes
/// must still see them go offline, within a bounded time (the node's
/// heartbeat going stale, the reaper's next beat, the offline grace).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server and a database; .ci/run runs it"]
async fn a_killed_nodes_users_go_offline_for_their_contacts() {
    use magpie_proto::Status;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = TestDatabase::create(&e2e_admin_url()).await;
    let redis = RedisProcess::start();
    let cluster = format!("reaper{}", std::process::id());
    let mut nodes: Vec<Node> = (0..2)
        .map(|i| {
            Node::start(
                &db.url,
                &redis.url(),
                &cluster,
                &dir.path().join(format!("n{i}")),
            )
        })
        .collect();
    let url = |n: &Node| format!("tcp://127.0.0.1:{}", n.tcp);
    let alice = Client::connect(&url(&nodes[0])).await.expect("connect");
    alice.register("alice", PASSWORD).await.expect("register");
    alice.login("alice", PASSWORD, None).await.expect("login");
    let mut bob = Client::connect(&url(&nodes[1])).await.expect("connect");
    bob.register("bob", PASSWORD).await.expect("register");
    bob.login("bob", PASSWORD, None).await.expect("login");
    alice.friend_request("bob", "").await.expect("request");
    bob.friend_accept("alice").await.expect("accept");
    let status_of_alice = |push: Option<Push>| match push {
        Some(Push::Presence(p)) if p.user == "alice" => Some(p.status),
        _ => None,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while status_of_alice(
        timeout(deadline - Instant::now(), bob.next_push())
            .await
            .expect("presence in time"),
    ) != Some(Status::Online)
    {}

    nodes[0].process.kill();
    let killed = Instant::now();
    let bound = magpie_server::cluster::NODE_TTL + Duration::from_secs(10);
    loop {
        let left = bound.saturating_sub(killed.elapsed());
        let push = timeout(left, bob.next_push())
            .await
            .expect("alice shown offline within the bound");
        if status_of_alice(push) == Some(Status::Offline) {
            break;
        }
    }
    eprintln!("offline seen {:?} after the kill", killed.elapsed());
    let (friends, _) = bob.friends().await.expect("friends");
    assert_eq!(
        friends[0].presence.as_ref().map(|p| p.status),
        Some(Status::Offline)
    );
}
