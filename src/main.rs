/// See Cargo.toml: memory freed after a load goes back to the system.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs before `main` and before Rust's first allocation, while mimalloc has reserved no
/// arena yet: the arena options count only for arenas reserved after they are set.
#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array"]
static SET_ALLOCATOR_OPTIONS: extern "C" fn() = set_allocator_options;

#[cfg(target_os = "linux")]
extern "C" fn set_allocator_options() {
    portcullis::allocator::return_memory_promptly();
}

fn main() -> std::process::ExitCode {
    portcullis::cli::run()
}
