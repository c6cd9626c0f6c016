fn main() -> std::process::ExitCode {
    qubital::cli::main()
}
