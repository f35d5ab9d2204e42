mod format;

fn main() {}
