//! Built against a contract version no host supports (9.0.0): the host
//! must refuse it at load and name the versions it does support.
wit_bindgen::generate!({
    inline: "
        package buildsnap:provider@9.0.0;
        interface provider {
            describe: func() -> string;
        }
        world plugin {
            export provider;
        }
    ",
});

struct Future;

impl exports::buildsnap::provider::provider::Guest for Future {
    fn describe() -> String {
        "from the future".into()
    }
}

export!(Future);
