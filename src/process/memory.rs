//! Memory a long-running svc process (a supervisor, the super daemon) gives back once it is
//! set up: the page mappings of start-up code and free heap.

/// Gives back what start-up left resident: unmaps (from this process only) the code pages of
/// read-only executable file mappings — they are shared with the page cache and fault back in
/// when the loop runs them — and returns free heap to the kernel. An idle supervisor then holds
/// little more than the code of its poll loop. Only mappings without a private (written) page
/// are touched (`Anonymous: 0 kB`), so no data can be lost.
pub fn shed_startup_pages() {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    let mut candidate: Option<(usize, usize)> = None;
    let mut ranges = Vec::new();
    for line in smaps.lines() {
        let mut f = line.split_whitespace();
        let first = f.next().unwrap_or("");
        if let Some((a, b)) = first.split_once('-') {
            if let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) {
                let perms = f.next().unwrap_or("");
                let path = f.nth(3);
                candidate = (perms == "r-xp" && path.is_some_and(|p| p.starts_with('/')))
                    .then_some((a, b - a));
                continue;
            }
        }
        // Pages written in a private mapping become anonymous (copy-on-write).
        if let (Some(c), Some(rest)) = (candidate, line.strip_prefix("Anonymous:")) {
            if rest.trim() == "0 kB" {
                ranges.push(c);
            }
            candidate = None;
        }
    }
    for (start, len) in ranges {
        // SAFETY: the range is a private, read-only, executable file mapping of this process
        // with no written page: MADV_DONTNEED only drops page-table entries, and the next
        // access maps the same file page again.
        unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTNEED) };
    }
    // SAFETY: malloc_trim only returns free heap memory to the kernel.
    unsafe { libc::malloc_trim(0) };
}
