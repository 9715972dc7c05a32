//! The `runner` command line.

fn main() {
    println!("runner {}", scorematch::VERSION);
}
