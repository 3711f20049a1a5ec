//! System calls for a launched child before its exec ([`super::child`]), made without glibc and
//! without `errno`: each returns the kernel's result or the error number itself.
//!
//! A child that shares svc's memory ([`super::child::spawn_waiting`]) also shares the thread
//! pointer of the svc thread that started it — and with it that thread's `errno`, which glibc's
//! wrappers would write while svc runs on. On x86-64 these calls are the `syscall`
//! instruction itself and touch no memory but their arguments; elsewhere (where svc forks
//! instead of sharing its memory) they go through `libc::syscall` and read `errno` back at once.

/// One system call with up to six arguments: its result, or the error number.
///
/// # Safety
/// The arguments must be what the kernel expects for `nr` (pointers to live memory of the
/// right layout).
#[inline(always)]
pub(super) unsafe fn call(nr: libc::c_long, args: [usize; 6]) -> Result<usize, i32> {
    #[cfg(target_arch = "x86_64")]
    {
        let ret: isize;
        // SAFETY: the `syscall` instruction with the kernel's x86-64 calling convention; the
        // caller vouches for the arguments (this function's contract). The kernel clobbers
        // rcx and r11 only, and uses no stack of ours.
        unsafe {
            std::arch::asm!(
                "syscall",
                inlateout("rax") nr as isize => ret,
                in("rdi") args[0],
                in("rsi") args[1],
                in("rdx") args[2],
                in("r10") args[3],
                in("r8") args[4],
                in("r9") args[5],
                lateout("rcx") _,
                lateout("r11") _,
                options(nostack),
            );
        }
        // The kernel returns -4095..-1 for an error.
        if (-4095..0).contains(&ret) {
            Err(-ret as i32)
        } else {
            Ok(ret as usize)
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        // SAFETY: as above; errno is read back at once by the same thread, which is a child
        // of its own (svc forks on these architectures).
        unsafe {
            let ret = libc::syscall(nr, args[0], args[1], args[2], args[3], args[4], args[5]);
            if ret < 0 {
                Err(*libc::__errno_location())
            } else {
                Ok(ret as usize)
            }
        }
    }
}

/// Ends the calling process at once (`exit_group`).
///
/// # Safety
/// Only in a launched child: nothing of svc's is flushed or unwound.
pub(super) unsafe fn exit(code: i32) -> ! {
    // SAFETY: exit_group takes an integer and does not return (this function's contract).
    unsafe {
        let _ = call(libc::SYS_exit_group, [code as usize, 0, 0, 0, 0, 0]);
    }
    // exit_group cannot fail; should it ever return, stop here rather than run on.
    loop {
        std::hint::spin_loop();
    }
}
