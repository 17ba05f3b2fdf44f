from luasup.early import main

main()
