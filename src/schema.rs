//! The D1 schema the Worker brings with it: the migrations in migrations/ (embedded at
//! build time), which of them a database still lacks, and each one split into statements
//! so it can run as one D1 batch (a transaction). Applied migrations are recorded in
//! wrangler's own table, so `wrangler d1 migrations apply` and the Worker agree on what
//! is done and neither applies anything twice.

/// One migration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, in order.
pub static MIGRATIONS: &[Migration] = include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// Wrangler's migrations table, exactly as `wrangler d1 migrations apply` creates it.
pub const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS d1_migrations(
\t\tid         INTEGER PRIMARY KEY AUTOINCREMENT,
\t\tname       TEXT UNIQUE,
\t\tapplied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
)";

pub const RECORD: &str = "INSERT INTO d1_migrations (name) VALUES (?1)";
pub const APPLIED: &str = "SELECT name FROM d1_migrations ORDER BY id";

/// The migrations a database that has `applied` still needs, in order.
pub fn pending<'a>(all: &'a [Migration], applied: &[String]) -> Vec<&'a Migration> {
    all.iter()
        .filter(|m| !applied.iter().any(|a| a == m.name))
        .collect()
}

/// The statements of a migration: split at `;` outside strings, quoted names and
/// comments (and inside a `CREATE TRIGGER` only after its `END`), comment-only pieces
/// dropped.
pub fn statements(sql: &str) -> Vec<&str> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    let mut depth = 0usize; // BEGIN … END nesting inside a trigger
    while i < b.len() {
        match b[i] {
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 2;
                continue;
            }
            q @ (b'\'' | b'"' | b'`') => {
                i += 1;
                while i < b.len() {
                    if b[i] == q {
                        // A doubled quote is an escaped one.
                        if b.get(i + 1) == Some(&q) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
            }
            b';' if depth == 0 => {
                push_statement(&sql[start..i], &mut out);
                start = i + 1;
            }
            c if c.is_ascii_alphabetic() && (i == 0 || !is_word(b[i - 1])) => {
                let end = (i..b.len()).find(|&j| !is_word(b[j])).unwrap_or(b.len());
                let word = &sql[i..end];
                if word.eq_ignore_ascii_case("BEGIN") && in_trigger(&sql[start..i]) {
                    depth += 1;
                } else if word.eq_ignore_ascii_case("END") && depth > 0 {
                    depth -= 1;
                }
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    push_statement(&sql[start..], &mut out);
    out
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn in_trigger(statement_so_far: &str) -> bool {
    let words: Vec<String> = statement_so_far
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter(|w| !w.is_empty())
        .take(4)
        .map(str::to_ascii_uppercase)
        .collect();
    words.first().is_some_and(|w| w == "CREATE")
        && words.iter().skip(1).take(3).any(|w| w == "TRIGGER")
}

fn push_statement<'a>(piece: &'a str, out: &mut Vec<&'a str>) {
    let s = piece.trim();
    let has_code = s
        .lines()
        .map(str::trim)
        .any(|l| !l.is_empty() && !l.starts_with("--"));
    if has_code {
        out.push(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_is_embedded_in_order() {
        let on_disk: Vec<String> = {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
            let mut v: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".sql"))
                .collect();
            v.sort();
            v
        };
        let embedded: Vec<&str> = MIGRATIONS.iter().map(|m| m.name).collect();
        assert_eq!(embedded, on_disk);
        for m in MIGRATIONS {
            let s = statements(m.sql);
            assert!(!s.is_empty(), "{}", m.name);
            assert!(s.iter().all(|st| !st.ends_with(';')), "{}", m.name);
        }
    }

    #[test]
    fn pending_migrations_in_order() {
        let all = [
            Migration {
                name: "0001_a.sql",
                sql: "",
            },
            Migration {
                name: "0002_b.sql",
                sql: "",
            },
            Migration {
                name: "0003_c.sql",
                sql: "",
            },
        ];
        let names = |v: Vec<&Migration>| v.iter().map(|m| m.name).collect::<Vec<_>>();
        assert_eq!(names(pending(&all, &[])).len(), 3);
        assert_eq!(
            names(pending(&all, &["0001_a.sql".into(), "0002_b.sql".into()])),
            ["0003_c.sql"]
        );
        assert!(pending(&all, &all.map(|m| m.name.to_string())).is_empty());
    }

    #[test]
    fn statements_split_only_where_sql_ends_them() {
        let sql = "-- Migration number: 0009 \t a; b\n\
                   CREATE TABLE t (a TEXT DEFAULT 'x;y', \"we;ird\" INTEGER); -- trailing; comment\n\
                   /* block; comment */ INSERT INTO t (a) VALUES ('it''s; fine');\n\
                   CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET a = 'b'; DELETE FROM t WHERE a = 'c'; END;\n\
                   ALTER TABLE t ADD COLUMN begin_at TEXT;\n\
                   -- only a comment; at the end\n";
        let s = statements(sql);
        assert_eq!(s.len(), 4, "{s:#?}");
        assert!(s[0].ends_with("\"we;ird\" INTEGER)"));
        assert!(s[1].ends_with("VALUES ('it''s; fine')"));
        assert!(s[2].starts_with("CREATE TRIGGER") && s[2].ends_with("END"));
        assert_eq!(s[3], "ALTER TABLE t ADD COLUMN begin_at TEXT");
        assert!(statements("-- nothing\n\n").is_empty());
    }
}
