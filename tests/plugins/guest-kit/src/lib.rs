//! Shared bindings for the test guests. A guest implements [`Behaviour`]
//! (every method has a default) and calls [`test_plugin!`].

wit_bindgen::generate!({
    path: "../../../wit/since_v0.1.0",
    world: "plugin",
    pub_export_macro: true,
    default_bindings_module: "guest_kit",
});

pub use buildsnap::provider::{http, log};
pub use buildsnap::provider::types::{Account, CallContext, Project, ProviderError};
pub use exports::buildsnap::provider::provider::{
    AuthScheme, CommitBuilds, CommitQuery, Descriptor, Guest, SyncPage, SyncRequest, WebhookError, WebhookEvent,
    WebhookRequest,
};

/// The behaviour under test; defaults answer `other("not implemented")`.
pub trait Behaviour {
    const ID: &'static str;
    fn describe() -> Descriptor {
        Descriptor {
            id: Self::ID.into(),
            name: Self::ID.into(),
            version: "0.0.1".into(),
            token_help_url: "https://example.invalid/tokens".into(),
            default_base_url: "https://example.invalid".into(),
            auth: AuthScheme::Header("x-test-token".into()),
            origins: vec!["https://example.invalid".into()],
        }
    }
    fn validate_credentials(_ctx: CallContext) -> Result<Account, ProviderError> {
        Err(ProviderError::Other("not implemented".into()))
    }
    fn list_projects(_ctx: CallContext) -> Result<Vec<Project>, ProviderError> {
        Err(ProviderError::Other("not implemented".into()))
    }
}

/// Log a panic's message at error level before the guest aborts, so the
/// host can attach it to the trap.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        log::log(log::Level::Error, &info.to_string());
    }));
}

/// Implement the export trait for `$ty: Behaviour` and export it.
#[macro_export]
macro_rules! test_plugin {
    ($ty:ident) => {
        impl $crate::Guest for $ty {
            fn describe() -> $crate::Descriptor {
                $crate::install_panic_hook();
                <$ty as $crate::Behaviour>::describe()
            }
            fn validate_credentials(ctx: $crate::CallContext) -> Result<$crate::Account, $crate::ProviderError> {
                $crate::install_panic_hook();
                <$ty as $crate::Behaviour>::validate_credentials(ctx)
            }
            fn list_projects(ctx: $crate::CallContext) -> Result<Vec<$crate::Project>, $crate::ProviderError> {
                $crate::install_panic_hook();
                <$ty as $crate::Behaviour>::list_projects(ctx)
            }
            fn project_for_repo(_repo_url: String) -> Option<String> {
                None
            }
            fn builds_for_commit(
                _ctx: $crate::CallContext,
                _query: $crate::CommitQuery,
            ) -> Result<$crate::CommitBuilds, $crate::ProviderError> {
                Err($crate::ProviderError::Other("not implemented".into()))
            }
            fn sync(_ctx: $crate::CallContext, _req: $crate::SyncRequest) -> Result<$crate::SyncPage, $crate::ProviderError> {
                Err($crate::ProviderError::Other("not implemented".into()))
            }
            fn parse_webhook(
                _ctx: $crate::CallContext,
                _req: $crate::WebhookRequest,
            ) -> Result<$crate::WebhookEvent, $crate::WebhookError> {
                Err($crate::WebhookError::Unsupported("not implemented".into()))
            }
        }
        $crate::export!($ty);
    };
}
