//! Operator commands over the same store the service uses: `import`, `generate`, `export`.
//! Progress goes to stderr (a bar when it is a terminal); data goes to stdout.

use std::{
    io::{BufRead, BufReader, Read, Write},
    path::Path,
    time::Duration,
};

use anyhow::{bail, Context};
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};

use crate::{
    app,
    config::Settings,
    service::{
        generation::Generator,
        import::{self, IMPORT_BATCH},
        issuance::{export_stream, ExportFormat},
    },
    signing::Signing,
    store::{campaigns, jobs},
};

fn bar(len: u64, template: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()));
    pb
}

/// `vouchsafe import FILE.ndjson`
pub async fn import(settings: &Settings, file: &Path) -> anyhow::Result<()> {
    let db = app::open_store(settings)?;
    app::migrate(&db, settings).await?;
    let ledger = app::open_ledger(settings, &db)?;
    let (reader, size): (Box<dyn Read + Send>, u64) = if file.as_os_str() == "-" {
        (Box::new(std::io::stdin()), 0)
    } else {
        let f = std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
        let size = f.metadata().map(|m| m.len()).unwrap_or(0);
        (Box::new(f), size)
    };
    let pb = bar(size, "{spinner} importing [{bar:40}] {bytes}/{total_bytes} {msg}");
    let mut lines = BufReader::new(reader);
    let (mut imported, mut rejected, mut voided) = (0usize, 0usize, 0usize);
    let mut line_no = 0usize;
    let mut buf = Vec::new();
    loop {
        let mut batch = Vec::with_capacity(IMPORT_BATCH);
        let mut eof = false;
        while batch.len() < IMPORT_BATCH {
            buf.clear();
            let n = lines.read_until(b'\n', &mut buf).context("cannot read the file")?;
            if n == 0 {
                eof = true;
                break;
            }
            pb.inc(n as u64);
            line_no += 1;
            let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
            match import::take_line(line) {
                None => {}
                Some(Ok(record)) => batch.push(record),
                Some(Err((code, detail))) => {
                    rejected += 1;
                    pb.suspend(|| eprintln!("line {line_no}: {code}: {detail}"));
                }
            }
        }
        if !batch.is_empty() {
            let n = batch.len();
            voided += import::write_batch(&db, ledger.as_ref(), batch).await?;
            imported += n;
            pb.set_message(format!("{imported} imported, {rejected} rejected"));
        }
        if eof {
            break;
        }
    }
    pb.finish_and_clear();
    eprintln!("imported {imported} customers, rejected {rejected} lines, voided {voided} open vouchers");
    Ok(())
}

/// `vouchsafe generate CAMPAIGN_ID`
pub async fn generate(settings: &Settings, campaign_id: i32) -> anyhow::Result<()> {
    let db = app::open_store(settings)?;
    app::migrate(&db, settings).await?;
    let Some(campaign) = db.run(move |c| campaigns::get(c, campaign_id)).await? else {
        bail!("no campaign with id {campaign_id}");
    };
    let signing =
        Signing::load(db.clone(), settings.master_key.clone()).await.context("cannot load signing keys")?;
    let generator = Generator::new(db.clone(), signing);
    let job = generator.enqueue(campaign_id).await?;
    eprintln!("generating vouchers for campaign {campaign_id} ({}) as job {}", campaign.name, job.id);
    let job_id = job.id.clone();
    let runner = {
        let generator = generator.clone();
        let id = job_id.clone();
        tokio::spawn(async move { generator.run(&id).await })
    };
    let pb = bar(0, "{spinner} [{bar:40}] {pos}/{len} customers, {msg} ({per_sec}, eta {eta})");
    loop {
        let id = job_id.clone();
        if let Some(j) = db.run(move |c| jobs::get(c, &id)).await? {
            pb.set_length(j.total.max(0) as u64);
            pb.set_position(j.processed.max(0) as u64);
            pb.set_message(format!("{} issued", j.issued));
        }
        if runner.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    pb.finish_and_clear();
    runner.await.context("generation task failed")?.context("generation failed")?;
    let id = job_id.clone();
    let j = db.run(move |c| jobs::get(c, &id)).await?.context("job vanished")?;
    eprintln!(
        "job {} {}: {} customers in segment, {} vouchers issued, {} skipped without consent, {} already had one",
        j.id, j.status, j.total, j.issued, j.skipped_no_consent, j.skipped_existing
    );
    if j.status != "done" {
        bail!("job {} {}: {}", j.id, j.status, j.error.unwrap_or_default());
    }
    Ok(())
}

/// `vouchsafe export CAMPAIGN_ID --format csv`
pub async fn export(settings: &Settings, campaign_id: i32, format: &str) -> anyhow::Result<()> {
    let format = match format {
        "csv" => ExportFormat::Csv,
        "ndjson" => ExportFormat::Ndjson,
        "json" => ExportFormat::Json,
        other => bail!("unknown format `{other}` (csv, ndjson or json)"),
    };
    let db = app::open_store(settings)?;
    app::migrate(&db, settings).await?;
    let Some(campaign) = db.run(move |c| campaigns::get(c, campaign_id)).await? else {
        bail!("no campaign with id {campaign_id}");
    };
    let mut stream = Box::pin(export_stream(db, campaign, format));
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| anyhow::anyhow!("export interrupted: {e}"))?;
        if let Err(e) = out.write_all(&chunk) {
            return super::unless_pipe_closed(e);
        }
    }
    out.flush().or_else(super::unless_pipe_closed)
}
