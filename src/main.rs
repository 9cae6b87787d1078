//! The `fictures-seed` binary: everything lives in the library's `entry`.

fn main() {
    fictures_seed::entry::main()
}
