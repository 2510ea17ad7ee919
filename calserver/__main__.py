from calserver.cli import main

main()
