//! Which server a name is asked of. Names inside the zones being checked
//! go to an authoritative server of the zone, never to a resolver: before
//! an NS switch the public resolvers do not serve the new data yet, and
//! what the authoritative server serves is what is checked. Other names
//! (third-party SPF includes, MX hosts elsewhere) go to the resolver.
//! Aliases are followed across that boundary.

use mailform_contract::RecordType;

use super::dns::{Answer, AskError, Server};

/// Routes questions for one zone check.
pub struct Router<'a> {
    /// Names at or under these go to `authoritative`.
    zones: Vec<String>,
    authoritative: &'a Server,
    /// For every other name; without one the authoritative server is asked.
    resolver: Option<&'a Server>,
}

/// More links than any sane alias chain has.
const MAX_ALIASES: usize = 8;

impl<'a> Router<'a> {
    pub fn new(
        zones: Vec<String>,
        authoritative: &'a Server,
        resolver: Option<&'a Server>,
    ) -> Self {
        Router {
            zones: zones
                .into_iter()
                .map(|z| z.trim_end_matches('.').to_ascii_lowercase())
                .collect(),
            authoritative,
            resolver,
        }
    }

    /// Whether `name` is asked of the authoritative server.
    pub fn in_zone(&self, name: &str) -> bool {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.zones
            .iter()
            .any(|z| name == *z || name.ends_with(&format!(".{z}")))
    }

    pub fn server_for(&self, name: &str) -> &'a Server {
        match self.resolver {
            Some(r) if !self.in_zone(name) => r,
            _ => self.authoritative,
        }
    }

    /// The records of `name` as the server for it serves them, without
    /// following an alias (for asking for the CNAME itself).
    pub async fn ask(&self, name: &str, rtype: &RecordType) -> Result<Answer, AskError> {
        self.server_for(name).ask(name, rtype).await
    }

    /// The records `name` resolves to, following aliases from one server
    /// to the next as a resolver would.
    pub async fn resolve(&self, name: &str, rtype: &RecordType) -> Result<Answer, AskError> {
        let mut name = name.to_string();
        for _ in 0..MAX_ALIASES {
            let reply = self.server_for(&name).query(&name, rtype).await?;
            match (reply.answer, reply.alias) {
                (Answer::Nothing, Some(target)) if target != name => name = target,
                (answer, _) => return Ok(answer),
            }
        }
        Ok(Answer::Nothing)
    }
}
