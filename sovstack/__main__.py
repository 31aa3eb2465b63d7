from sovstack.cli.main import main

main()
