//! Diego's BBS: the API server and the state it keeps.

pub mod db;
