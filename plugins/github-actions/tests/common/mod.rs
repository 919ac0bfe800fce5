//! A [`Transport`] that plays the host: it adds the bearer token, runs batch
//! requests one at a time (the descriptor's `max-concurrency` is 1) and
//! keeps conditional answers per URL as the host's cache does
//! (`If-None-Match`; a 304 comes back as the kept 200, `revalidated`).
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use buildsnap_github_actions::transport::Transport;
use buildsnap_github_actions::wit::{
    CacheState, CallContext, Horizon, HttpError, Method, Request, Response,
};
use github_sim::{Scenario, SimHandle, SimOptions, Simulator};

/// A simulator on its own runtime, and the test's side of it.
pub struct Sim {
    pub rt: tokio::runtime::Runtime,
    pub handle: Option<SimHandle>,
    client: reqwest::Client,
    pub token: String,
    cache: RefCell<HashMap<String, Response>>,
    /// Every URL sent, in order.
    pub sent: RefCell<Vec<String>>,
}

pub fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

impl Sim {
    pub fn start(scenario: Scenario, opts: SimOptions, token: &str) -> Sim {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let handle = rt
            .block_on(Simulator::start(scenario, opts))
            .expect("simulator");
        Sim {
            rt,
            handle: Some(handle),
            client: reqwest::Client::new(),
            token: token.into(),
            cache: RefCell::default(),
            sent: RefCell::default(),
        }
    }

    pub fn demo() -> Sim {
        Sim::start(
            github_sim::cases::demo().unwrap(),
            SimOptions {
                clock_running: Some(false),
                ..SimOptions::default()
            },
            github_sim::cases::DEMO_TOKEN,
        )
    }

    pub fn sim(&self) -> &SimHandle {
        self.handle.as_ref().unwrap()
    }

    /// A call context on the simulator's clock.
    pub fn ctx(&self) -> CallContext {
        CallContext {
            now: self.sim().clock().now().timestamp_millis() as u64,
            base_url: self.sim().base_url(),
            settings: vec![],
        }
    }

    /// The full SHA of a run of the scenario.
    pub fn sha_of(&self, run_id: u64) -> String {
        self.sim()
            .scenario()
            .repos
            .iter()
            .flat_map(|r| &r.runs)
            .find(|r| r.id == run_id)
            .map(|r| r.head_sha.clone())
            .expect("run in scenario")
    }

    async fn exchange(&self, req: &Request) -> Result<Response, HttpError> {
        assert_eq!(req.method, Method::Get, "the plugin only reads");
        let mut r = self.client.get(&req.url).bearer_auth(&self.token);
        for (k, v) in &req.headers {
            r = r.header(k, v);
        }
        let kept = req
            .conditional
            .then(|| self.cache.borrow().get(&req.url).cloned())
            .flatten();
        if let Some(etag) = kept.as_ref().and_then(|k| header(k, "etag")) {
            r = r.header("if-none-match", etag);
        }
        let resp = r
            .send()
            .await
            .map_err(|e| HttpError::Connect(e.to_string()))?;
        let status = resp.status().as_u16();
        let headers: Vec<(String, String)> = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let body = resp
            .bytes()
            .await
            .map_err(|e| HttpError::Other(e.to_string()))?
            .to_vec();
        let received_at = wall_ms();
        if status == 304
            && let Some(mut k) = kept
        {
            k.cache_state = CacheState::Revalidated;
            k.received_at = received_at;
            return Ok(k);
        }
        let answer = Response {
            status,
            headers,
            body,
            cache_state: if kept.is_some() {
                CacheState::Fresh
            } else {
                CacheState::Miss
            },
            received_at,
        };
        if req.conditional && status == 200 && header(&answer, "etag").is_some() {
            self.cache
                .borrow_mut()
                .insert(req.url.clone(), answer.clone());
        }
        Ok(answer)
    }
}

pub fn header(resp: &Response, name: &str) -> Option<String> {
    resp.headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

impl Transport for Sim {
    fn send(&self, req: &Request) -> Result<Response, HttpError> {
        self.sent.borrow_mut().push(req.url.clone());
        self.rt.block_on(self.exchange(req))
    }

    fn send_batch(&self, reqs: &[Request]) -> Vec<Result<Response, HttpError>> {
        reqs.iter().map(|r| self.send(r)).collect()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            self.rt.block_on(h.shutdown());
        }
    }
}

pub fn horizon() -> Horizon {
    Horizon {
        max_pipelines: 2000,
        not_before: None,
    }
}
