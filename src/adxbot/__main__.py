from adxbot.cli.app import main

main()
