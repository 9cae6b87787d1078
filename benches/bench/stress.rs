//! Part 4: part 1's operations on the stress schema of `tests/stress.rs`.

use anyhow::Result;

use crate::ctx::*;
use crate::local::*;
use crate::stats::*;
use crate::stress_schema;

/// Part 1's operations on the stress schema, and the schema's size.
pub(crate) struct Stress {
    pub(crate) ops: Local,
    pub(crate) tables: usize,
    pub(crate) foreign_keys: usize,
}

pub(crate) fn stress_section(ctx: &Ctx) -> Result<Stress> {
    let runs = env_usize("BENCH_STRESS_RUNS", 5)?;
    let schema = stress_schema::Schema::generate();
    let stats = schema.stats();
    let template = ctx.name("stress_tpl");
    eprintln!(
        "bench: part 4, stress schema: template {template} ({} generated tables), 1 warm-up + {runs} runs",
        stats.tables
    );
    ctx.create_db(&template, Some(&ctx.template))?;
    let script = ctx.work.path().join("stress.sql");
    let foreign = std::fs::read_to_string(ctx.root.join("tests/data/foreign.sql"))?;
    psql_script(
        ctx,
        &template,
        &script,
        &format!("{}\n{foreign}\n{}", schema.ddl(), schema.foreign().sql),
    )?;
    let ops = cycles(ctx, runs, || {
        let db = ctx.name("stress");
        ctx.create_db(&db, Some(&template))?;
        // Database settings do not travel with a template clone.
        ctx.psql_at(
            "postgres",
            &format!("ALTER DATABASE \"{db}\" SET search_path = public, audit"),
        )?;
        Ok(db)
    })?;
    let foreign_keys: usize = ctx
        .psql_at(
            &template,
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conparentid = 0",
        )?
        .parse()?;
    ctx.drop_db(&template)?;
    Ok(Stress {
        ops,
        tables: stats.tables,
        foreign_keys,
    })
}

impl Stress {
    pub(crate) fn table(&self) -> String {
        self.ops.table_titled(&format!(
            "### 4. The stress schema (tests/stress.rs)\n\nThe same operations on the migrated \
             schema plus {} generated tables ({} foreign keys in all, tables of 80 to 150 \
             columns, a second schema on the search_path, a partitioned table, a trigger), \
             with the foreign rows of the stress test in place.",
            self.tables, self.foreign_keys
        ))
    }

    /// Medians and round trips of both schemas side by side.
    pub(crate) fn beside(&self, small: &Local) -> String {
        let mut s = String::from(
            "#### Small schema beside the stress schema (medians)\n\n\
             | operation | small: median | small: round trips | stress: median | stress: round trips |\n\
             |---|---:|---:|---:|---:|\n",
        );
        for (k, op) in LOCAL_OPS.iter().enumerate() {
            s += &format!(
                "| `{op}` | {} | {} | {} | {} |\n",
                ms(small.stats[k].median),
                show_counts(&small.counts[k]).1,
                ms(self.ops.stats[k].median),
                show_counts(&self.ops.counts[k]).1,
            );
        }
        s
    }
}
