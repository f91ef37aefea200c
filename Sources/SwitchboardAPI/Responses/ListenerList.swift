
struct ListenerList: Encodable { let listeners: [ListenerResponse] }
