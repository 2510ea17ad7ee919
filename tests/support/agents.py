"""Real User-Agent strings of calendar clients, one or more per family."""

AGENTS = {
    "apple-ios": ["iOS/26.6 (23G71) dataaccessd/1.0", "iOS/17.5.1 (21F90) dataaccessd/1.0"],
    "apple-macos": [
        "macOS/26.6.2 (25G83) dataaccessd/1.0",
        "Mac OS X/10.15.7 (19H2) CalendarAgent/954",
    ],
    "google": ["Google-Calendar-Importer"],
    "microsoft": [
        "Microsoft Exchange/15.20 (Windows NT 10.0; Win64; x64)",
        "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)",
    ],
    "icsx5": ["ICSx5/2.2.3-gplay (ical4j/3.2.19 okhttp/4.12.0 Android/14)"],
    "davx5": ["DAVx5/4.4.2-ose (2024/07/04; dav4jvm; okhttp/4.12.0) Android/14"],
    "thunderbird": [
        "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.5.0",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:128.0) Gecko/20100101 Thunderbird/128.5.0",
    ],
    "evolution": ["Evolution/3.50.4"],
    "other": ["Mozilla/5.0 (compatible; Nextcloud Calendar)", ""],
}

BROWSERS = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Version/18.0 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
]
BOTS = [
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "TelegramBot (like TwitterBot)",
    "WhatsApp/2.23.20.0",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36",
    "curl/8.5.0",
    "",
]
