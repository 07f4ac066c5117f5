pub mod hub_server;
