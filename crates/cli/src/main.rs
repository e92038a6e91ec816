fn main() {
    std::process::exit(kubectl_hooks::main(std::env::args_os()));
}
