from luasup.cli import main

main()
