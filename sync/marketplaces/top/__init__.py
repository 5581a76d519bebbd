"""TOP protocol (Taobao/Tmall open platform) connector: signing, client, errors, mapping."""
