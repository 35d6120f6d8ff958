"""Mail: rendering our templates into messages and handing them to a transport."""
