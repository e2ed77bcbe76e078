//! The CPU a benchmark ran on, printed with every timing (ratios are compared only within one run,
//! since the build machines differ: AVX2-only EPYC or AVX-512 Xeon).

/// The CPU's model name and the vector extensions that matter for the GEMM kernels.
pub fn cpu() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("unknown")
        .trim()
        .to_string();
    let flags = info.lines().find(|l| l.starts_with("flags")).unwrap_or_default();
    let vector: Vec<&str> = ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni"]
        .into_iter()
        .filter(|f| flags.split_whitespace().any(|x| x == *f))
        .collect();
    format!("{model} ({})", vector.join(", "))
}
