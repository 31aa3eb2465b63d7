from sovstack.cli import main

main()
