from abpn.cli import main

main()
