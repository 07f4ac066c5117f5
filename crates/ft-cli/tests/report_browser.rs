//! report.html in a real browser: headless chromium loads the page `ft train` wrote, logs no console
//! message (no script error, no failed resource), keeps every chart in the DOM, and its screenshot is a
//! drawn page, not a blank one. Chromium is required: without it the test fails with the install
//! command (`.ci/run` installs Debian's `chromium`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// `$FT_CHROMIUM`, else the first of chromium / chromium-browser / google-chrome on PATH.
fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("FT_CHROMIUM") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "FT_CHROMIUM={}: no such file; unset it, or install chromium with `apt-get install -y chromium`",
            p.display()
        );
        return p;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::split_paths(&path) {
            if dir.join(name).is_file() {
                return dir.join(name);
            }
        }
    }
    panic!(
        "chromium not found on PATH: the report's browser test needs it; install it with \
         `apt-get update && apt-get install -y chromium` (.ci/run does this), or point FT_CHROMIUM at a chromium binary"
    );
}

/// Runs headless chromium on `page` with `extra` flags; returns (stdout, stderr). Fails after 120 s.
fn headless(page: &Path, profile: &Path, extra: &[String]) -> (String, String) {
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out, &mut s).ok();
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut err, &mut s).ok();
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(120) {
            child.kill().ok();
            panic!("chromium did not finish within 120 s on {}", page.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (stdout, stderr) = (out_reader.join().unwrap(), err_reader.join().unwrap());
    assert!(status.success(), "chromium failed ({status}) on {}:\n{stderr}", page.display());
    (stdout, stderr)
}

/// Console messages chromium logged (`…:CONSOLE…] "message", source: …`), and failed loads.
fn console_messages(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught") || l.contains("net::ERR_")).collect()
}

/// A trained tiny run; returns its report.html.
fn report(dir: &Path) -> PathBuf {
    let mut data = String::from("text,label\n");
    let words = [
        ("good great fun", "positive"),
        ("bad awful boring", "negative"),
        ("love fun", "positive"),
        ("hate bad", "negative"),
    ];
    for i in 0..80 {
        let (w, l) = words[i % 4];
        data.push_str(&format!("{w} movie {i},{l}\n"));
    }
    let train = dir.join("train.csv");
    std::fs::write(&train, data).unwrap();
    let out = dir.join("run");
    let tiny = fixtures().join("tiny");
    let o = Command::new(env!("CARGO_BIN_EXE_ft"))
        .args(["train", "--model", tiny.to_str().unwrap(), "--train", train.to_str().unwrap()])
        .args(["--output", out.to_str().unwrap(), "--epochs", "3", "--batch-size", "8", "--lr", "2e-3"])
        .args(["--max-len", "16", "--reinit-head", "--eval-every", "5"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out.join("report.html")
}

#[test]
fn report_renders_in_headless_chromium_without_console_errors() {
    let dir = tempfile::tempdir().unwrap();
    let page = report(dir.path());

    // The check can see an error: a page with a script error is caught by the same filter.
    let control = dir.path().join("control.html");
    std::fs::write(&control, "<html><body><script>console.error('x'); missing();</script></body></html>").unwrap();
    let (_, stderr) = headless(&control, &dir.path().join("profile-control"), &["--dump-dom".into()]);
    assert!(console_messages(&stderr).len() >= 2, "chromium's console log format changed? stderr:\n{stderr}");

    // The DOM holds every chart.
    let (dom, stderr) = headless(&page, &dir.path().join("profile-dom"), &["--dump-dom".into()]);
    assert!(console_messages(&stderr).is_empty(), "console messages:\n{}", console_messages(&stderr).join("\n"));
    assert!(dom.matches("<svg").count() >= 5, "loss, lr, validation, heat map, bars; DOM:\n{dom}");
    assert!(dom.contains("confusion matrix") && dom.contains("Configuration"));
    // A few validation examples explained (4 of the 8 validation rows), each word highlighted.
    assert!(dom.contains("Why the model said that (validation examples)"), "{dom}");
    assert_eq!(dom.matches("<p class=\"ex\">").count(), 4, "{dom}");
    assert!(dom.matches("<span class=\"w\"").count() >= 8, "{dom}");

    // The screenshot is a drawn page.
    let png = dir.path().join("shot.png");
    let (_, stderr) = headless(
        &page,
        &dir.path().join("profile-shot"),
        &[format!("--screenshot={}", png.display()), "--window-size=1200,900".into()],
    );
    assert!(console_messages(&stderr).is_empty(), "console messages:\n{}", console_messages(&stderr).join("\n"));
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).expect("a screenshot")));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    assert!(channels >= 3, "{:?}", info.color_type);
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(channels).collect();
    assert_eq!(pixels.len(), (info.width * info.height) as usize);
    assert_eq!((info.width, info.height), (1200, 900));
    let non_white = pixels.iter().filter(|p| p[..3].iter().any(|&c| c < 245)).count();
    let colours: std::collections::HashSet<[u8; 3]> = pixels.iter().map(|p| [p[0], p[1], p[2]]).collect();
    let share = non_white as f64 / pixels.len() as f64;
    assert!(share > 0.10, "only {:.1}% of the screenshot is not white", share * 100.0);
    assert!(colours.len() > 50, "only {} distinct colours: a blank or unstyled page?", colours.len());
}

/// `ft explain --html`'s page in headless chromium: no console message, a highlighted span per word in
/// the DOM, and a screenshot with green (for) and red (against) highlights on a drawn page.
#[test]
fn explanation_page_renders_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("why.html");
    let o = Command::new(env!("CARGO_BIN_EXE_ft"))
        .args(["explain", "--model", fixtures().join("tiny").to_str().unwrap()])
        .args(["awful boring acting, but i love the story!", "is it good?", "--html", page.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (dom, stderr) = headless(&page, &dir.path().join("profile-dom"), &["--dump-dom".into()]);
    assert!(console_messages(&stderr).is_empty(), "console messages:\n{}", console_messages(&stderr).join("\n"));
    assert_eq!(dom.matches("<span style=\"background:rgba(").count(), 10 + 4, "{dom}");
    let png = dir.path().join("shot.png");
    let (_, stderr) = headless(
        &page,
        &dir.path().join("profile-shot"),
        &[format!("--screenshot={}", png.display()), "--window-size=900,500".into()],
    );
    assert!(console_messages(&stderr).is_empty(), "console messages:\n{}", console_messages(&stderr).join("\n"));
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).expect("a screenshot")));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(channels).collect();
    let greenish = pixels.iter().filter(|p| p[1] as i32 > p[0] as i32 + 40 && p[1] as i32 > p[2] as i32 + 40).count();
    let reddish = pixels.iter().filter(|p| p[0] as i32 > p[1] as i32 + 40 && p[0] as i32 > p[2] as i32 + 40).count();
    assert!(greenish > 100 && reddish > 100, "highlights: {greenish} green, {reddish} red pixels");
}
