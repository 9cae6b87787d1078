//! The app's sign-in artefacts, produced byte-for-byte in its own formats:
//! password hashes, API keys, Auth.js session cookies and Playwright storage
//! state. Everything random (salts, secrets, IVs, jti) comes from the caller.

pub mod api_key;
pub mod password;
pub mod session;
pub mod storage_state;

pub use api_key::{ApiKey, SCOPES, is_scope};
pub use session::{Claims, cookie_name};
pub use storage_state::{Account, document, profile, write_atomic};
