//! Barycenter, an OpenID Connect identity provider.
//!
//! This is the command-line face of the program the release system ships: it reports its
//! version and build revision, and prints the provider's discovery document.

use std::env;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::process::ExitCode;

const NAME: &str = "barycenter";
const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git revision the release pipeline passes at build time; `unknown` in a plain `cargo build`.
const REVISION: Option<&str> = option_env!("BARYCENTER_REVISION");

const USAGE: &str = "usage: barycenter [--version | --help | discovery --issuer URL]";

#[derive(Debug, PartialEq, Eq)]
enum Command {
    Version,
    Help,
    Discovery { issuer: String },
}

#[derive(Debug, PartialEq, Eq)]
struct UsageError(String);

fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Command, UsageError> {
    let mut args = args.into_iter();
    let command = match args.next().as_deref() {
        None | Some("-h") | Some("--help") => Command::Help,
        Some("-V") | Some("--version") => Command::Version,
        Some("discovery") => match (args.next().as_deref(), args.next()) {
            (Some("--issuer"), Some(issuer)) => Command::Discovery {
                issuer: validate_issuer(&issuer)?,
            },
            _ => return Err(UsageError("discovery needs --issuer URL".to_string())),
        },
        Some(other) => return Err(UsageError(format!("unknown argument '{other}'"))),
    };
    match args.next() {
        None => Ok(command),
        Some(extra) => Err(UsageError(format!("unexpected argument '{extra}'"))),
    }
}

/// OpenID Connect Discovery 1.0 §3: the issuer is an https URL with no query or fragment.
fn validate_issuer(issuer: &str) -> Result<String, UsageError> {
    let trimmed = issuer.trim_end_matches('/');
    let well_formed = trimmed.starts_with("https://")
        && trimmed.len() > "https://".len()
        && !trimmed.contains(['?', '#', '"', '\\', ' ']);
    if well_formed {
        Ok(trimmed.to_string())
    } else {
        Err(UsageError(format!(
            "issuer '{issuer}' must be an https URL without query or fragment"
        )))
    }
}

fn version_line() -> String {
    format!(
        "{NAME} {VERSION} (revision {})",
        REVISION.unwrap_or("unknown")
    )
}

fn help_text() -> String {
    format!(
        "{NAME} {VERSION}: an OpenID Connect identity provider\n\n{USAGE}\n\n\
         options:\n  -V, --version          print the version and build revision\n  \
         -h, --help             print this help\n\n\
         commands:\n  discovery --issuer URL print the OpenID Provider metadata for URL\n"
    )
}

fn discovery_document(issuer: &str) -> String {
    let mut out = String::from("{\n");
    let fields: [(&str, String); 7] = [
        ("issuer", issuer.to_string()),
        ("authorization_endpoint", format!("{issuer}/authorize")),
        ("token_endpoint", format!("{issuer}/token")),
        ("userinfo_endpoint", format!("{issuer}/userinfo")),
        ("jwks_uri", format!("{issuer}/jwks.json")),
        ("device_authorization_endpoint", format!("{issuer}/device")),
        ("code_challenge_methods_supported", "[\"S256\"]".to_string()),
    ];
    for (name, value) in fields.iter() {
        let rendered = if value.starts_with('[') {
            value.clone()
        } else {
            format!("\"{value}\"")
        };
        let _ = writeln!(out, "  \"{name}\": {rendered},");
    }
    out.push_str(
        "  \"response_types_supported\": [\"code\"],\n  \
         \"subject_types_supported\": [\"public\"],\n  \
         \"id_token_signing_alg_values_supported\": [\"RS256\", \"EdDSA\"]\n}\n",
    );
    out
}

fn main() -> ExitCode {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let written = match parse(env::args().skip(1)) {
        Ok(Command::Version) => writeln!(out, "{}", version_line()),
        Ok(Command::Help) => write!(out, "{}", help_text()),
        Ok(Command::Discovery { issuer }) => write!(out, "{}", discovery_document(&issuer)),
        Err(UsageError(reason)) => {
            eprintln!("{NAME}: {reason}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn version_flags_select_the_version_command() {
        assert_eq!(parse(args(&["--version"])), Ok(Command::Version));
        assert_eq!(parse(args(&["-V"])), Ok(Command::Version));
    }

    #[test]
    fn no_arguments_or_help_flags_select_help() {
        assert_eq!(parse(args(&[])), Ok(Command::Help));
        assert_eq!(parse(args(&["--help"])), Ok(Command::Help));
        assert_eq!(parse(args(&["-h"])), Ok(Command::Help));
    }

    #[test]
    fn unknown_flag_is_a_usage_error_naming_it() {
        let error = parse(args(&["--frobnicate"])).unwrap_err();
        assert!(error.0.contains("--frobnicate"), "{error:?}");
    }

    #[test]
    fn trailing_arguments_are_refused() {
        assert!(parse(args(&["--version", "extra"])).is_err());
    }

    #[test]
    fn version_line_names_the_crate_version_and_a_revision() {
        let line = version_line();
        assert!(line.starts_with(&format!("barycenter {VERSION} (revision ")));
        assert!(line.ends_with(')'));
        if REVISION.is_none() {
            assert!(line.contains("revision unknown"));
        }
    }

    #[test]
    fn discovery_requires_an_https_issuer() {
        assert_eq!(
            parse(args(&["discovery", "--issuer", "https://id.example.com/"])),
            Ok(Command::Discovery {
                issuer: "https://id.example.com".to_string()
            })
        );
        assert!(parse(args(&["discovery", "--issuer", "http://id.example.com"])).is_err());
        assert!(parse(args(&["discovery", "--issuer", "https://x?y=1"])).is_err());
        assert!(parse(args(&["discovery"])).is_err());
    }

    #[test]
    fn discovery_document_lists_endpoints_below_the_issuer() {
        let document = discovery_document("https://id.example.com");
        assert!(document.contains("\"issuer\": \"https://id.example.com\","));
        assert!(document.contains("\"token_endpoint\": \"https://id.example.com/token\","));
        assert!(document.contains("\"code_challenge_methods_supported\": [\"S256\"],"));
        assert!(document.trim_end().ends_with('}'));
    }
}
