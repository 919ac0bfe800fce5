//! Ports for servers a test starts as child processes. Included by path
//! (`#[path = "support/ports.rs"] mod ports;`) so that tests which use
//! another support module get it too.

/// A port free on 127.0.0.1 now, for a server the test starts as a child
/// process (which binds it itself; another process could take it in
/// between, which on loopback in a test run does not happen in practice).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
